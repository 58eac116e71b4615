//! A sheet of companies imported as organizations (issue 15, item 4) in the real binary in an
//! 80x24 terminal (tmux), as an operator would: Open → Sheet → Map (o: the rows are
//! organizations; the tier and renewal columns typed as organization fields) → Check →
//! Preview → Connect (the built-in sandbox, seeded with three of the companies and the
//! account's organization fields) → Plan (47 new, 3 updates) → Run → Results.

mod tmux;

use tempfile::TempDir;
use tmux::{Tmux, assert_shell_usable, launch_args};

/// The sample in the TUI (the built-in sandbox seeded with three of its companies), its rows
/// made organizations on the Map screen.
fn open_as_organizations(name: &str, home: &TempDir) -> (Tmux, String) {
    let tmux = Tmux::start_sized(name, home.path(), "", (80, 24));
    launch_args(
        &tmux,
        "--sandbox --sandbox-seed assets/organizations_seed.json \
         assets/organizations_sample.csv",
    );
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    let users = tmux.wait_for("rows users (o)");
    tmux.keys(&["o"]);
    tmux.wait_for("rows organizations (o)");
    (tmux, users)
}

/// From Preview: connected to the sandbox, on the Plan step's offer to look the rows up.
fn connect(tmux: &Tmux) -> String {
    tmux.keys(&["n"]);
    tmux.wait_for("The built-in sandbox");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Signed in as Sandbox Admin");
    tmux.keys(&["n"]);
    tmux.wait_for("The plan looks the organizations up")
}

#[test]
fn a_companies_sheet_goes_in_as_organizations_through_every_screen_at_80x24() {
    let home = TempDir::new().unwrap();
    let (tmux, users) = open_as_organizations("orgs", &home);
    assert!(
        users.contains("organization "),
        "Company is a user's organization: {users}"
    );
    let map = tmux.wait_for("rows organizations (o)");
    for target in ["name", "external_id", "domain_names", "shared_tickets"] {
        assert!(map.contains(target), "{target}: {map}");
    }
    // Tier and Renewal date are the account's organization fields: typed by key.
    tmux.keys(&["Down", "Down", "Down", "c"]);
    let key = tmux.wait_for("Custom field key");
    assert!(key.contains("organization_fields.tier"), "{key}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("7 of 8 columns mapped");
    tmux.keys(&["Down", "c"]);
    tmux.wait_for("organization_fields.renewal_date");
    tmux.keys(&["Enter"]);
    tmux.wait_for("8 of 8 columns mapped");
    // The profile remembers that its rows are organizations.
    tmux.keys(&["s"]);
    tmux.wait_for("Save mapping as profile");
    tmux.type_text("companies");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Saved profile");
    let saved = home.path().join("config/profiles/companies.json");
    let profile = std::fs::read_to_string(&saved).unwrap();
    assert!(
        profile.contains("\"object\": \"organizations\""),
        "{profile}"
    );
    assert!(profile.contains("organization_fields.tier"), "{profile}");
    tmux.keys(&["n"]);
    tmux.wait_for("50 ready");
    tmux.keys(&["n"]);
    let preview = tmux.wait_for("Request 1 of 2");
    assert!(
        preview.contains("/api/v2/organizations/create_many") && preview.contains("organizations"),
        "{preview}"
    );
    let offer = connect(&tmux);
    assert!(offer.contains("2 custom fields checked"), "{offer}");
    tmux.keys(&["Enter"]);
    let plan = tmux.wait_for("47 new");
    assert!(
        plan.contains("3 update") && plan.contains("0 would fail"),
        "{plan}"
    );
    assert!(plan.contains("Globex GmbH: organization"), "{plan}");
    tmux.keys(&["n"]);
    let ask = tmux.wait_for("Start the import?");
    assert!(ask.contains("Send 50 organizations in 2 requests"), "{ask}");
    tmux.keys(&["y"]);
    let run = tmux.wait_for("FINISHED");
    assert!(run.contains("50 of 50 rows finished"), "{run}");
    tmux.keys(&["n"]);
    let results = tmux.wait_for("filter: all");
    assert!(
        results.contains("47 created") && results.contains("3 updated"),
        "{results}"
    );
    assert!(results.contains("Globex GmbH #ORG-2"), "{results}");
    tmux.keys(&["q"]);
    assert_shell_usable(&tmux, "FINISHED");
}

/// Create mode, imported without the lookups (`s` on the Plan step): the question names the
/// organizations' endpoint, and the organizations go as checked (they once stopped at
/// "looking up the organizations", read as users naming some); the three the account holds
/// fail as Zendesk refuses a name it has.
#[test]
fn a_companies_sheet_in_create_mode_goes_in_without_the_plan() {
    let home = TempDir::new().unwrap();
    let (tmux, _) = open_as_organizations("orgs-s", &home);
    tmux.keys(&["m", "m"]);
    tmux.wait_for("mode create (m)");
    tmux.keys(&["n"]);
    tmux.wait_for("50 ready");
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of 2");
    connect(&tmux);
    tmux.keys(&["s"]);
    let ask = tmux.wait_for("Start the import?");
    assert!(ask.contains("Send 50 organizations in 2 requests"), "{ask}");
    assert!(ask.contains("organizations/create_many"), "{ask}");
    tmux.keys(&["y"]);
    let run = tmux.wait_for("FINISHED");
    assert!(
        run.contains("47 created") && run.contains("3 failed"),
        "{run}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("Quit zdimport?");
    tmux.keys(&["y"]);
    assert_shell_usable(&tmux, "FINISHED");
}
