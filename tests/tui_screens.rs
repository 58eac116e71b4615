//! Screens an operator works in, driven in tmux at 80x24 on the real binary: Connect's text
//! fields and its Enter, the file browser after a failed open, wide characters in the grids, the
//! Plan's row detail and the Run screen's hints and ETA.

mod tmux;

use std::path::Path;

use tempfile::TempDir;
use tmux::{Tmux, assert_shell_usable, launch_args};
use unicode_width::UnicodeWidthStr;

/// The smallest terminal the TUI promises to work in.
const SIZE: (u16, u16) = (80, 24);

/// The display column where `text` starts in the screen line that holds `marker`.
fn column_of(screen: &str, marker: &str, text: &str) -> usize {
    let line = screen
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line holds {marker:?}:\n{screen}"));
    let at = line
        .find(text)
        .unwrap_or_else(|| panic!("{text:?} is not on the line {line:?}"));
    line[..at].width()
}

/// A CSV whose table starts in column B, with Japanese, emoji and accented cells, and one bad
/// email and one row without a name.
fn wide_csv(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("wide.csv");
    std::fs::write(
        &path,
        ",Name,E-mail,External ID,メモ\n\
         ,山田太郎,taro@example.jp,1001,🎉 VIP 顧客\n\
         ,佐藤花子,花子(at)example.jp,1002,請求書は毎月\n\
         ,Zoé Ångström,zoe@example.com,1003,café ☕\n\
         ,Bob,bob@example.com,1004,plain\n\
         ,,nobody@example.com,1005,x\n",
    )
    .unwrap();
    path
}

/// Quits from any screen, saying yes when asked, and checks the shell works again.
fn quit(tmux: &Tmux, gone: &str) {
    tmux.keys(&["q"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    if tmux.screen().contains("Quit zdimport?") {
        tmux.keys(&["y"]);
    }
    assert_shell_usable(tmux, gone);
}

/// A file from the command line that is no workbook leaves the browser listing the folder;
/// `~/sheets` goes there, letters filter, and the CJK table keeps its columns on Sheet and Map,
/// which names the sheet's own columns (B, C, …).
#[test]
fn after_a_failed_open_the_browser_lists_filters_and_takes_a_path() {
    let home = TempDir::new().unwrap();
    std::fs::create_dir(home.path().join("sheets")).unwrap();
    wide_csv(&home.path().join("sheets"));
    let broken = home.path().join("broken.xlsx");
    std::fs::write(&broken, "not a workbook").unwrap();
    let tmux = Tmux::start_sized("open", home.path(), "", SIZE);
    launch_args(&tmux, broken.to_str().unwrap());
    tmux.wait_for("not a readable workbook");
    tmux.keys(&["Escape"]);
    // The folder it was started in (the crate's), with its parent.
    let listed = tmux.wait_for("▸ assets");
    assert!(listed.contains("▸ .."), "{listed}");

    tmux.type_text("~/sheets");
    let data = home.path().join("sheets");
    tmux.wait_for(&format!("Enter goes to {}", data.display()));
    tmux.keys(&["Enter"]);
    tmux.wait_for("wide.csv");
    tmux.type_text("wd");
    tmux.wait_for("1 of 2");
    tmux.keys(&["Enter"]);

    let sheet = tmux.wait_for("header on row 1");
    assert_eq!(
        column_of(&sheet, "山田太郎", "taro@"),
        column_of(&sheet, "Bob", "bob@"),
        "the grid keeps its columns:\n{sheet}"
    );
    tmux.keys(&["Enter"]);
    let map = tmux.wait_for("columns mapped");
    for (letter, header) in [("B", "Name"), ("C", "E-mail"), ("E", "メモ")] {
        let line = map.lines().find(|l| l.contains(header)).unwrap_or_default();
        assert!(
            line.starts_with(&format!("│{letter}    {header}")),
            "{header} is column {letter}:\n{map}"
        );
    }
    assert_eq!(
        column_of(&map, "メモ", "ignore"),
        column_of(&map, "E-mail", "email "),
        "the targets stay in line after wide samples:\n{map}"
    );
    quit(&tmux, "columns mapped");
}

/// Connect's URL edits like a shell line (no letters from control keys), takes a host, and
/// Enter on a successful test goes on to the Plan, whose row detail shows the row in full.
#[test]
fn connect_edits_like_a_shell_line_and_enter_goes_on_to_the_plan_detail() {
    let home = TempDir::new().unwrap();
    let csv = wide_csv(home.path());
    let tmux = Tmux::start_sized("connect", home.path(), "", SIZE);
    launch_args(&tmux, &format!("--sandbox {}", csv.display()));
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["n"]);
    let check = tmux.wait_for("1 with errors");
    assert_eq!(
        column_of(&check, "花子(at)", "'花子"),
        column_of(&check, "    6 ", "name is empty"),
        "the problem column stays in line after a CJK value:\n{check}"
    );
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of 1");
    tmux.keys(&["n"]);
    let connect = tmux.wait_for("The built-in sandbox");
    let url = connect
        .lines()
        .find_map(|l| l.split("Zendesk URL  ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the sandbox's URL")
        .to_owned();
    let host = url.trim_start_matches("http://").to_owned();

    tmux.keys(&["Up"; 9]);
    tmux.keys(&["Home"]);
    tmux.type_text("x");
    tmux.wait_for(&format!("Zendesk URL  x{url}"));
    // Back over the x, Delete takes it out; Ctrl-X and Alt-B mean nothing and type nothing.
    tmux.keys(&["Left", "DC", "C-x", "M-b", "C-e"]);
    tmux.wait_for(&format!("Zendesk URL  {url} "));
    tmux.keys(&["C-w"]);
    tmux.wait_for("Zendesk URL  http://  ");
    tmux.keys(&["C-u"]);
    tmux.wait_for("a subdomain (acme), a host");
    tmux.type_text(&host);
    tmux.wait_for(&format!("→ {url}"));

    tmux.keys(&["Down"; 9]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Signed in as Sandbox Admin");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["Enter"]);
    tmux.wait_for("1 would fail");
    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("A new user, created with:");
    assert!(detail.contains("Row 2 · new"), "{detail}");
    assert!(detail.contains(r#""name": "山田太郎""#), "{detail}");
    tmux.keys(&["Right"; 4]);
    let failing = tmux.wait_for("Row 6 · would_fail");
    assert!(failing.contains("without a name"), "{failing}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("Plan · 5 of 5");
    quit(&tmux, "Plan · 5 of 5");
}

/// While sending the bar offers pause and cancel, paused it offers resume, once the run is
/// over only the results; the ETA comes after a few seconds, holds while paused and goes.
#[test]
fn the_run_screen_hints_only_what_works_and_its_eta_holds_while_paused() {
    let home = TempDir::new().unwrap();
    let csv = home.path().join("many.csv");
    let mut text = String::from("Name,Email,External ID\n");
    for i in 0..3000 {
        text.push_str(&format!("User {i},user{i}@example.com,{}\n", 70_000 + i));
    }
    std::fs::write(&csv, text).unwrap();
    let tmux = Tmux::start_sized("run", home.path(), "", SIZE);
    launch_args(&tmux, &format!("--sandbox {}", csv.display()));
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["n"]);
    tmux.wait_for("3000 ready");
    tmux.keys(&["n"]);
    tmux.wait_for("Request 1 of 30");
    tmux.keys(&["n"]);
    tmux.wait_for("The built-in sandbox");
    // One job at a time: the run lasts long enough to pause.
    tmux.keys(&["Up", "Up", "Up", "C-u"]);
    tmux.type_text("1");
    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Signed in as");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The plan looks the users up");
    tmux.keys(&["s"]);
    tmux.wait_for("Start the import?");
    tmux.keys(&["y"]);

    let running = tmux.wait_for(" p  pause  c  cancel ");
    assert!(!running.contains("results"), "{running}");
    let estimated = tmux.wait_until("an ETA", |screen| {
        screen
            .split("ETA ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    });
    assert!(estimated.contains("RUNNING"), "{estimated}");
    tmux.keys(&["p"]);
    let paused = tmux.wait_for("(held while paused)");
    assert!(paused.contains(" p  resume  c  cancel "), "{paused}");
    tmux.keys(&["c"]);
    let over = tmux.wait_for("CANCELLED");
    let hints = over.lines().last().unwrap_or_default();
    assert!(hints.contains("n Enter  results"), "{over}");
    assert!(
        !hints.contains("pause") && !hints.contains("cancel"),
        "{over}"
    );
    assert!(!over.contains("ETA"), "no ETA once nothing runs:\n{over}");
    assert!(over.contains("rows not sent"), "{over}");
    quit(&tmux, "CANCELLED");
}
