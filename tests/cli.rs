//! The headless commands as a script would run them: generated workbooks in, exact output out.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::Value;
use tempfile::TempDir;

/// Runs the binary with its config dir inside `home`.
fn zdimport(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args(args)
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .output()
        .expect("run zdimport")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("utf-8 stderr")
}

/// A CRM export as they come: a title row, Excel floats for ids, a date, odd cells.
fn crm_export(dir: &Path) -> PathBuf {
    let path = dir.join("crm.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Contacts").unwrap();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    sheet.write(0, 0, "CRM export 2026-11").unwrap();
    let headers = [
        "Full Name",
        "E-mail",
        "Customer ID",
        "Phone",
        "Company",
        "Tags",
        "Signed up",
        "Plan",
        "Internal",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write(1, c as u16, *h).unwrap();
    }
    let rows: [Contact; 5] = [
        (
            "Ana Silva",
            "Ana.Silva@Example.com",
            Id::Float(12345.0),
            4_915_112_345_000.0,
            "Acme",
            "vip, beta",
            (2025, 3, 4),
            "Gold",
        ),
        (
            "  Bruno Lima ",
            "bruno@example.com",
            Id::Text("00042"),
            351_912_000_111.0,
            "",
            "newsletter",
            (1999, 12, 31),
            "silver",
        ),
        (
            "Chloé Müller",
            "chloe(at)example.com",
            Id::Text("123456789012345678"),
            0.0,
            "Globex",
            "",
            (2024, 2, 29),
            "Gold",
        ),
        (
            "",
            "no.name@example.com",
            Id::Float(7.0),
            0.0,
            "",
            "",
            (2026, 1, 1),
            "",
        ),
        (
            "Dup Ana",
            "ana.silva@example.com",
            Id::Float(99.0),
            0.0,
            "",
            "",
            (2026, 1, 2),
            "",
        ),
    ];
    for (i, (name, email, id, phone, org, tags, (y, m, d), plan)) in rows.into_iter().enumerate() {
        let r = i as u32 + 2;
        sheet.write(r, 0, name).unwrap();
        sheet.write(r, 1, email).unwrap();
        match id {
            Id::Float(f) => sheet.write(r, 2, f).unwrap(),
            Id::Text(t) => sheet.write(r, 2, t).unwrap(),
        };
        if phone > 0.0 {
            sheet.write(r, 3, phone).unwrap();
        }
        sheet.write(r, 4, org).unwrap();
        sheet.write(r, 5, tags).unwrap();
        let when = ExcelDateTime::from_ymd(y, m, d).unwrap();
        sheet.write_with_format(r, 6, &when, &date).unwrap();
        sheet.write(r, 7, plan).unwrap();
        sheet.write(r, 8, "do not send").unwrap();
    }
    book.save(&path).unwrap();
    path
}

/// Name, email, id, phone, company, tags, signed up (y, m, d), plan.
type Contact = (
    &'static str,
    &'static str,
    Id,
    f64,
    &'static str,
    &'static str,
    (u16, u8, u8),
    &'static str,
);

enum Id {
    Float(f64),
    Text(&'static str),
}

const CRM_MAP: [&str; 18] = [
    "--map",
    "Full Name=name",
    "--map",
    "E-mail=email",
    "--map",
    "Customer ID=external_id",
    "--map",
    "Phone=phone",
    "--map",
    "Company=organization",
    "--map",
    "Tags=tags",
    "--map",
    "Signed up=user_fields.signup_date",
    "--map",
    "Plan=user_fields.plan",
    "--map",
    "Internal=ignore",
];

#[test]
fn preview_jsonl_is_the_exact_requests() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let mut args = vec![
        "preview",
        file.to_str().unwrap(),
        "--jsonl",
        "--mode",
        "create",
    ];
    args.extend(CRM_MAP);
    let out = zdimport(home.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
    assert_eq!(
        stderr(&out),
        "zdimport: 3 rows have errors and are not sent; `zdimport validate` lists them\n"
    );
}

#[test]
fn phones_are_sent_as_e164_in_the_phone_region_and_the_others_warn() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let file = file.to_str().unwrap();
    let mut args = vec!["preview", file, "--jsonl", "--phone-region", "pt"];
    args.extend(CRM_MAP);
    let out = zdimport(home.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = stdout(&out);
    assert!(body.contains(r#""phone":"+351912000111""#), "{body}");
    assert!(
        body.contains(r#""phone":"4915112345000""#),
        "sent as is: {body}"
    );
    let mut args = vec!["validate", file, "--phone-region", "PT"];
    args.extend(CRM_MAP);
    let out = zdimport(home.path(), &args);
    let report = stdout(&out);
    assert!(
        report.contains(
            "row 3, Phone (D3): warning: '4915112345000' cannot be written as E.164: not a valid \
             phone number in region PT; sent as is"
        ),
        "{report}"
    );
    assert!(!report.contains("row 4, Phone"), "{report}");
    let bad = zdimport(
        home.path(),
        &["validate", file, "--auto", "--phone-region", "Portugal"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("'Portugal' is not a phone region"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn preview_jsonl_upsert_with_auto_matching() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let out = zdimport(
        home.path(),
        &["preview", file.to_str().unwrap(), "--jsonl", "--auto"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn validate_json_lists_every_problem_with_row_and_column() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let mut args = vec![
        "validate",
        file.to_str().unwrap(),
        "--json",
        "--mode",
        "create",
    ];
    args.extend(CRM_MAP);
    let out = zdimport(home.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let issues: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let brief: Vec<String> = issues
        .iter()
        .map(|i| {
            format!(
                "{} {} {} {}",
                i["row"], i["column"], i["severity"], i["message"]
            )
        })
        .collect();
    insta::assert_snapshot!(brief.join("\n"));
    assert_eq!(
        stderr(&out),
        "zdimport: 5 data rows: 0 ready, 2 with warnings, 3 with errors (not sent)\n"
    );
}

#[test]
fn validate_exit_codes() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let file = file.to_str().unwrap();
    // Only the clean rows' columns: no errors, exit 0.
    let clean = zdimport(
        home.path(),
        &[
            "validate",
            file,
            "--map",
            "Company=organization",
            "--map",
            "Customer ID=external_id",
        ],
    );
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    assert!(
        stdout(&clean)
            .ends_with("5 data rows: 5 ready, 0 with warnings, 0 with errors (not sent)\n")
    );
    // No name column for create mode: fatal, one line, exit 2.
    let fatal = zdimport(
        home.path(),
        &[
            "validate",
            file,
            "--map",
            "E-mail=email",
            "--mode",
            "create",
        ],
    );
    assert_eq!(fatal.status.code(), Some(2));
    assert_eq!(stderr(&fatal).lines().count(), 1);
    assert!(stderr(&fatal).contains("sheet 'Contacts': create mode needs a column mapped to name"));
}

#[test]
fn bad_files_and_arguments_are_one_line_and_exit_2() {
    let home = TempDir::new().unwrap();
    let broken = home.path().join("broken.xlsx");
    std::fs::write(&broken, b"PK\x03\x04 not really a zip").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["preview", "missing.xlsx", "--auto"],
            "missing.xlsx: cannot read the file",
        ),
        (
            &["preview", broken.to_str().unwrap(), "--auto"],
            "broken.xlsx: not a readable workbook",
        ),
        (
            &[
                "validate",
                "assets/users_sample.xlsx",
                "--auto",
                "--sheet",
                "Nope",
            ],
            "no sheet named 'Nope'",
        ),
        (
            &[
                "validate",
                "assets/users_sample.xlsx",
                "--auto",
                "--header-row",
                "999",
            ],
            "header row 999 is outside the sheet",
        ),
        (
            &["preview", "assets/users_sample.xlsx", "--profile", "nobody"],
            "profile 'nobody' not found",
        ),
    ];
    for (args, want) in cases {
        let out = zdimport(home.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn profiles_save_list_show_use_and_delete() {
    let home = TempDir::new().unwrap();
    let file = crm_export(home.path());
    let file = file.to_str().unwrap();
    let mut args = vec![
        "validate",
        file,
        "--auto",
        "--map",
        "Plan=user_fields.plan",
        "--save-profile",
        "crm monthly",
    ];
    args.extend(["--mode", "create"]);
    let saved = zdimport(home.path(), &args);
    assert!(
        stderr(&saved).contains("saved profile 'crm monthly'"),
        "{}",
        stderr(&saved)
    );

    let list = zdimport(home.path(), &["profiles", "list"]);
    assert!(
        stdout(&list).starts_with("crm monthly              create    7 columns mapped\n"),
        "{}",
        stdout(&list)
    );

    let show = zdimport(home.path(), &["profiles", "show", "crm monthly"]);
    let profile: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(profile["mode"], "create");
    assert_eq!(
        profile["columns"][7],
        serde_json::json!({"source": "Plan", "target": "user_fields.plan"})
    );
    assert_eq!(profile["columns"][8]["target"], "ignore");

    // The saved profile maps next month's file by name, with its mode.
    let by_profile = zdimport(
        home.path(),
        &["preview", file, "--profile", "crm monthly", "--jsonl"],
    );
    let mut auto = vec!["preview", file, "--jsonl", "--auto", "--mode", "create"];
    auto.extend(["--map", "Plan=user_fields.plan"]);
    assert_eq!(stdout(&by_profile), stdout(&zdimport(home.path(), &auto)));

    let deleted = zdimport(home.path(), &["profiles", "delete", "crm monthly"]);
    assert!(deleted.status.success());
    let gone = zdimport(home.path(), &["profiles", "show", "crm monthly"]);
    assert_eq!(gone.status.code(), Some(2));
    assert!(stderr(&gone).contains("profile 'crm monthly' not found"));
}

#[test]
fn batches_carry_their_sheet_rows() {
    let home = TempDir::new().unwrap();
    let path = home.path().join("many.csv");
    let mut text = String::from("sep=;\nName;Email\n");
    for i in 0..250 {
        if i == 10 {
            text.push_str(";\n"); // a blank row: skipped, not counted
        }
        text.push_str(&format!("User {i};user{i}@example.com\n"));
    }
    std::fs::write(&path, text).unwrap();
    let out = zdimport(
        home.path(),
        &[
            "preview",
            path.to_str().unwrap(),
            "--auto",
            "--jsonl",
            "--mode",
            "create",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let requests: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| r["body"]["users"].as_array().unwrap().len())
        .collect();
    // One round of the 30 jobs the import runs at once, evened out (none under 25 users).
    assert_eq!(sizes, vec![25; 10]);
    // Rows as Excel numbers them: it hides the `sep=` line, so the header is row 1; the
    // blank row 12 is skipped and shifts later rows by one.
    assert_eq!(requests[0]["rows"][0], 2);
    assert_eq!(requests[0]["rows"][10], 13);
    assert_eq!(requests[9]["rows"][24], 252);
    assert_eq!(
        requests[9]["body"]["users"][24]["email"],
        "user249@example.com"
    );
}

#[test]
fn the_sample_and_its_profile_in_assets_agree() {
    let home = TempDir::new().unwrap();
    let out = zdimport(
        home.path(),
        &[
            "validate",
            "assets/users_sample.xlsx",
            "--profile",
            "assets/sample_profile.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.ends_with("204 data rows: 199 ready, 2 with warnings, 3 with errors (not sent)\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "row 207, Customer ID (C207): error: the cell holds the spreadsheet error #N/A"
        ),
        "{text}"
    );
}

#[test]
fn login_asks_for_the_operators_client_and_logout_forgets_the_token() {
    let home = TempDir::new().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zdimport"))
            .args(args)
            .env("ZDIMPORT_CONFIG_DIR", home.path().join("config"))
            .env("ZDIMPORT_KEYRING", "memory")
            .env_remove("ZENDESK_CLIENT_ID")
            .env_remove("ZENDESK_URL")
            .env_remove("ZENDESK_SUBDOMAIN")
            .output()
            .expect("run zdimport")
    };
    let login = run(&["login", "--subdomain", "acme", "--redirect-port", "8123"]);
    assert_eq!(login.status.code(), Some(2));
    let err = stderr(&login);
    assert!(err.contains("no OAuth client id"), "{err}");
    assert!(err.contains("http://127.0.0.1:8123/callback"), "{err}");
    let logout = run(&[
        "logout",
        "--subdomain",
        "acme",
        "--client-id",
        "acme_import",
    ]);
    assert!(logout.status.success(), "{}", stderr(&logout));
    assert_eq!(
        stdout(&logout),
        "No refresh token was kept for acme.zendesk.com and client 'acme_import'.\n"
    );
}

/// Raw terminal controls in `text`: an OSC 52 clipboard write would need ESC and BEL, a
/// reordering needs U+202E.
fn assert_no_raw_controls(what: &str, text: &str) {
    for c in ['\u{1b}', '\u{7}', '\u{202e}', '\u{9b}'] {
        assert!(!text.contains(c), "{what}: {c:?} left raw in {text}");
    }
}

#[test]
fn cells_with_terminal_controls_are_visible_on_stdout_and_stderr() {
    let home = TempDir::new().unwrap();
    let csv = home.path().join("hostile.csv");
    let hostile = "\u{1b}]52;c;aGk=\u{7}Ana\u{202e}moc\u{9b}";
    std::fs::write(
        &csv,
        format!("name,email,{hostile}Note\n{hostile},ana@example.com,x\n"),
    )
    .unwrap();
    let file = csv.to_str().unwrap();
    for args in [
        &["preview", file, "--auto"][..],
        &["preview", file, "--auto", "--jsonl"],
        &["validate", file, "--auto"],
    ] {
        let out = zdimport(home.path(), args);
        assert_no_raw_controls(&format!("{args:?} stdout"), &stdout(&out));
        assert_no_raw_controls(&format!("{args:?} stderr"), &stderr(&out));
    }
    let shown = stdout(&zdimport(home.path(), &["preview", file, "--auto"]));
    assert!(shown.contains("<U+202E>"), "{shown}");
    let refused = zdimport(home.path(), &["preview", file, "--map", "Nope=email"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert_no_raw_controls("a column list in an error", &err);
    assert!(
        err.contains("␛]52;c;aGk=␇Ana<U+202E>moc<U+009B>Note"),
        "{err}"
    );
}

#[test]
fn validate_warns_of_leading_zeros_that_only_the_excel_format_shows() {
    let home = TempDir::new().unwrap();
    let path = home.path().join("zips.xlsx");
    let mut book = Workbook::new();
    let zip = Format::new().set_num_format("00000");
    let sheet = book.add_worksheet();
    sheet.set_name("Users").unwrap();
    // The table starts in column B: the caution names the sheet's own letter.
    for (c, h) in ["Name", "Email", "Customer ID"].iter().enumerate() {
        sheet.write(0, c as u16 + 1, *h).unwrap();
    }
    for (r, id) in [(1, 6083.0), (2, 12345.0)] {
        sheet.write(r, 1, "Ana").unwrap();
        sheet.write(r, 2, format!("ana{r}@example.com")).unwrap();
        sheet.write_number_with_format(r, 3, id, &zip).unwrap();
    }
    book.save(&path).unwrap();
    let file = path.to_str().unwrap();
    let out = zdimport(home.path(), &["validate", file, "--auto"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "Column D (Customer ID): Excel shows 06083 (format 00000) but the file holds 6083"
        ),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("transform pad 5"), "{}", stdout(&out));
    // With JSON on stdout, the caution goes to stderr.
    let out = zdimport(home.path(), &["validate", file, "--auto", "--json"]);
    assert!(
        stderr(&out).contains("Column D (Customer ID)"),
        "{}",
        stderr(&out)
    );
}

/// More problems than `validate` holds in memory (its runs on disk): every one printed, in
/// sheet order, a duplicate's warning on its earlier row among that row's own problems; the
/// JSON list the same problems in the same order.
#[test]
fn validate_prints_many_problems_in_sheet_order() {
    const ROWS: usize = 30_000;
    let home = TempDir::new().unwrap();
    let path = home.path().join("nameless.csv");
    let mut text = String::from("Full Name,E-mail\n");
    for i in 0..ROWS {
        // Every thousandth row repeats the address of the row 500 above it.
        let user = if i % 1000 == 999 { i - 500 } else { i };
        text.push_str(&format!(",user{user}@example.com\n"));
    }
    std::fs::write(&path, text).unwrap();
    let file = path.to_str().unwrap();
    let map = ["--map", "Full Name=name", "--map", "E-mail=email"];
    let out = zdimport(home.path(), &[&["validate", file][..], &map].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().filter(|l| l.starts_with("row ")).collect();
    let duplicates = ROWS / 1000;
    // A warning a row, and the duplicate's error and its earlier row's warning.
    assert_eq!(lines.len(), ROWS + 2 * duplicates);
    let row_of = |line: &str| -> u32 {
        let number = line["row ".len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next();
        number.unwrap().parse().unwrap()
    };
    let rows: Vec<u32> = lines.iter().map(|l| row_of(l)).collect();
    assert!(rows.windows(2).all(|w| w[0] <= w[1]), "sheet order");
    // Sheet row 501 (user499) is repeated on sheet row 1001: that warning follows its own.
    let at = rows.iter().position(|r| *r == 501).unwrap();
    assert!(lines[at].contains("name is empty"), "{}", lines[at]);
    assert!(
        lines[at + 1].contains("is also on row 1001"),
        "{}",
        lines[at + 1]
    );
    assert!(lines[at + 2].starts_with("row 502,"), "{}", lines[at + 2]);

    let out = zdimport(
        home.path(),
        &[&["validate", file, "--json"][..], &map].concat(),
    );
    let issues: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let json_rows: Vec<u32> = issues
        .iter()
        .map(|i| u32::try_from(i["row"].as_u64().unwrap()).unwrap())
        .collect();
    assert_eq!(json_rows, rows);
    assert!(
        issues[at + 1]["message"]
            .as_str()
            .unwrap()
            .contains("is also on row 1001")
    );

    // Nowhere to set them aside (the data directory is a file): said, with the place.
    let blocked = home.path().join("not-a-dir");
    std::fs::write(&blocked, "").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args([&["validate", file][..], &map].concat())
        .env("ZDIMPORT_CONFIG_DIR", home.path().join("config"))
        .env("ZDIMPORT_DATA_DIR", &blocked)
        .output()
        .unwrap();
    let said = stderr(&out);
    assert!(!out.status.success());
    assert!(
        said.contains("cannot sort the problems found (set aside in"),
        "{said}"
    );
    assert!(said.contains("not-a-dir"), "{said}");
    assert!(stdout(&out).is_empty(), "nothing printed half-sorted");
}
