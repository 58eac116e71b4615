//! The real binary in a real terminal (tmux), driven as an operator would: open the sample,
//! pick the sheet, map, save a profile, check, preview, quit; then again, with the profile
//! offered. `.ci/run` installs tmux.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a screen may take to show what is expected (a debug build on a busy CI machine).
const PATIENCE: Duration = Duration::from_secs(30);

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of our own running `sh`, 100x30, in the crate's directory.
    fn start(name: &str, home: &Path) -> Tmux {
        let tmux = Tmux {
            socket: format!("zdimport-e2e-{name}-{}", std::process::id()),
        };
        let config = home.join("config");
        let data = home.join("data");
        let shell = format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} \
             ZDIMPORT_CONFIG_DIR={config} ZDIMPORT_DATA_DIR={data} PS1='$ ' sh",
            home = home.display(),
            config = config.display(),
            data = data.display(),
        );
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "100",
            "-y",
            "30",
            "-c",
            env!("CARGO_MANIFEST_DIR"),
            &shell,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Escape reaches the app at once instead of waiting to become Alt+key.
        tmux.run(&["set", "-g", "escape-time", "0"]);
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (.ci/run installs it)")
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "e2e", key]);
        }
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", text]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`; fails with the screen when it does not.
    fn wait_for(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {text:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn launch(tmux: &Tmux) {
    let bin = env!("CARGO_BIN_EXE_zdimport");
    tmux.wait_for("$");
    tmux.type_text(&format!("{bin} assets/users_sample.xlsx"));
    tmux.keys(&["Enter"]);
}

#[test]
fn an_operator_maps_checks_previews_and_the_profile_is_offered_next_time() {
    let home = TempDir::new().unwrap();
    let tmux = Tmux::start("flow", home.path());
    launch(&tmux);

    // Sheet: the title row is passed over, the header found on row 3.
    let sheet = tmux.wait_for("header on row 3");
    assert!(
        sheet.contains("Customers") && sheet.contains("207×13"),
        "{sheet}"
    );
    tmux.keys(&["Enter"]);

    // Map: automatic matching; Plan, Renewal Date and Seats become custom fields.
    let map = tmux.wait_for("Ready: n checks every row");
    assert!(map.contains("10 of 13 columns mapped"), "{map}");
    assert!(map.contains("E-mail") && map.contains("alias"), "{map}");
    tmux.keys(&["Down"; 7]);
    tmux.keys(&["c", "Enter", "Down", "c", "Enter", "Down", "c", "Enter"]);
    let map = tmux.wait_for("13 of 13 columns mapped");
    assert!(map.contains("user_fields.renewal_date"), "{map}");
    tmux.keys(&["s"]);
    tmux.wait_for("Save mapping as profile");
    tmux.type_text("monthly crm");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Saved profile");
    assert!(
        home.path()
            .join("config/profiles/monthly crm.json")
            .is_file()
    );

    // Check: the counts and the problems of the sample's bad rows.
    tmux.keys(&["n"]);
    let check = tmux.wait_for("199 ready");
    assert!(check.contains("3 with errors"), "{check}");
    assert!(check.contains("'superuser' is not a role"), "{check}");
    tmux.keys(&["f"]);
    tmux.wait_for("filter: errors");

    // Preview: the first request, then the one holding row 205.
    tmux.keys(&["n"]);
    let preview = tmux.wait_for("Request 1 of 3");
    assert!(
        preview.contains("/api/v2/users/create_or_update_many"),
        "{preview}"
    );
    tmux.keys(&["g"]);
    tmux.type_text("205");
    tmux.keys(&["Enter"]);
    let preview = tmux.wait_for("Request 3 of 3");
    assert!(preview.contains("no.name@example.com"), "{preview}");

    // Quit: the profile is saved, so no question; the shell works again afterwards.
    tmux.keys(&["q"]);
    tmux.wait_for("$");
    tmux.type_text(
        "echo shell-is-back-$((20+22)); stty -a | grep -o -- '-*icanon'; echo end-$((1+1))",
    );
    tmux.keys(&["Enter"]);
    let shell = tmux.wait_for("end-2");
    assert!(shell.contains("shell-is-back-42"), "{shell}");
    assert!(
        !shell.contains("Request 3 of 3"),
        "the alternate screen is left:\n{shell}"
    );
    assert!(
        shell.lines().any(|l| l.trim() == "icanon"),
        "the terminal is back in cooked mode:\n{shell}"
    );

    // Next time the saved profile is offered for the same sheet.
    tmux.type_text("clear");
    tmux.keys(&["Enter"]);
    launch(&tmux);
    tmux.wait_for("header on row 3");
    tmux.keys(&["Enter"]);
    let offer = tmux.wait_for("Saved profile 'monthly crm' fits this sheet");
    assert!(offer.contains("13 of its 13"), "{offer}");
    tmux.keys(&["y"]);
    tmux.wait_for("profile 'monthly crm'");
    tmux.keys(&["q"]);
    tmux.wait_for("$");
}

#[test]
fn sigterm_restores_the_terminal() {
    let home = TempDir::new().unwrap();
    let tmux = Tmux::start("term", home.path());
    launch(&tmux);
    tmux.wait_for("header on row 3");
    let shell = String::from_utf8_lossy(
        &tmux
            .run(&["display", "-p", "-t", "e2e", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .to_owned();
    let child = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&child.stdout).trim().to_owned();
    assert!(!pid.is_empty(), "zdimport runs under the shell {shell}");
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    tmux.wait_for("$");
    tmux.type_text("stty -a | grep -o -- '-*icanon'; echo end-$((1+1))");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("end-2");
    assert!(
        !screen.contains("header on row 3"),
        "the alternate screen is left:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "cooked mode again:\n{screen}"
    );
}
