//! The Plan screen of a user list naming several organizations per user, in the real binary
//! in tmux at 80x24 (issue 15, item 3): the memberships the import adds after the users are
//! counted on the screen, beside the organizations created first.

mod tmux;

use tempfile::TempDir;
use tmux::{Tmux, launch_args};

#[test]
fn the_plan_screen_counts_the_memberships_it_adds_at_80x24() {
    let home = TempDir::new().unwrap();
    let mut text = String::from("Name,Email,External ID,Organizations\n");
    for i in 0..10 {
        let orgs = if i % 2 == 0 {
            "Acme; Globex; Initech"
        } else {
            "Acme"
        };
        text.push_str(&format!(
            "User {i},user{i}@example.com,{},\"{orgs}\"\n",
            80_000 + i
        ));
    }
    let sheet = home.path().join("members.csv");
    std::fs::write(&sheet, text).unwrap();
    let env = "ZDIMPORT_SANDBOX_OPTIONS=multiple-organizations=on";
    let tmux = Tmux::start_sized("members", home.path(), env, (80, 24));
    launch_args(&tmux, &format!("--sandbox {}", sheet.display()));
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    let map = tmux.wait_for("Ready: n checks every row");
    assert!(map.contains("organizations"), "{map}");
    tmux.keys(&["n"]);
    tmux.wait_for("10 ready");
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of");
    tmux.keys(&["n"]);
    tmux.wait_for("Test the connection");
    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["Enter"]);
    let plan = tmux.wait_for("memberships after the users");
    // Five users join Globex and Initech besides Acme, their default: ten memberships.
    assert!(plan.contains("+10 memberships after the users."), "{plan}");
    assert!(plan.contains("10 new"), "{plan}");
    assert!(plan.contains("Created first (3"), "{plan}");
    assert!(plan.lines().all(|l| l.chars().count() <= 80), "{plan}");
    // n: the import, confirmed; its log says what the phase after the users did.
    tmux.keys(&["n"]);
    tmux.wait_for("Send 10 users");
    tmux.keys(&["y"]);
    let run = tmux.wait_for("FINISHED");
    let run = if run.contains("memberships (10): 10 added") {
        run
    } else {
        tmux.wait_for("memberships (10): 10 added")
    };
    assert!(
        run.contains("after the users: memberships (10): 10 added"),
        "{run}"
    );
    println!("{plan}\n{run}");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}
