//! The real binary in a tmux terminal of our own, typed at as an operator would: what the
//! tmux tests share. `.ci/run` installs tmux.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long a screen may take to show what is expected (a debug build on a busy CI machine).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A tmux server of our own running `sh`, 100x30, in the crate's directory.
    pub fn start(name: &str, home: &Path) -> Tmux {
        Tmux::start_with(name, home, "")
    }

    /// Like [`Tmux::start`], with `VAR=value` pairs added to the shell's environment.
    pub fn start_with(name: &str, home: &Path, env: &str) -> Tmux {
        Tmux::start_sized(name, home, env, (100, 30))
    }

    /// Like [`Tmux::start_with`], in a terminal of `columns` x `lines`.
    pub fn start_sized(name: &str, home: &Path, env: &str, (columns, lines): (u16, u16)) -> Tmux {
        let tmux = Tmux {
            socket: format!("zdimport-e2e-{name}-{}", std::process::id()),
        };
        let config = home.join("config");
        let data = home.join("data");
        let shell = format!(
            "env -i PATH=/usr/bin:/bin TERM=xterm-256color HOME={home} \
             ZDIMPORT_CONFIG_DIR={config} ZDIMPORT_DATA_DIR={data} {env} PS1='$ ' sh",
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
            &columns.to_string(),
            "-y",
            &lines.to_string(),
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

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (.ci/run installs it)")
    }

    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "e2e", key]);
        }
    }

    /// Presses each key once the screen has answered the one before: two keys that reach the
    /// program in one read can be taken as one (Escape then Escape as Alt+Escape).
    pub fn press_each(&self, keys: &[&str]) {
        for key in keys {
            let before = self.screen();
            self.keys(&[key]);
            self.wait_until(&format!("the screen to answer {key}"), |s| s != before);
        }
    }

    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", text]);
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    /// Waits until the screen shows `text`; fails with the screen when it does not.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |screen| screen.contains(text))
    }

    /// Waits until `shows` holds for the screen (`what` names it in the failure).
    ///
    /// The screen returned is one that two captures in a row agree on, so a capture taken
    /// while the program was halfway through drawing a frame is never what a test reads.
    pub fn wait_until(&self, what: &str, shows: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let screen = self.screen();
            if shows(&screen) && screen == last {
                return screen;
            }
            last = screen.clone();
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {what}; the screen shows:\n{screen}"
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

pub fn launch(tmux: &Tmux) {
    launch_args(tmux, "assets/users_sample.xlsx");
}

pub fn launch_args(tmux: &Tmux, args: &str) {
    let bin = env!("CARGO_BIN_EXE_zdimport");
    tmux.wait_for("$");
    tmux.type_text(&format!("{bin} {args}"));
    tmux.keys(&["Enter"]);
}

/// The pid of the program the tmux shell runs.
pub fn child_pid(tmux: &Tmux) -> String {
    let out = tmux
        .run(&["display", "-p", "-t", "e2e", "#{pane_pid}"])
        .stdout;
    let shell = String::from_utf8_lossy(&out).trim().to_owned();
    let child = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&child.stdout).trim().to_owned();
    assert!(!pid.is_empty(), "a program runs under the shell {shell}");
    pid
}

/// Checks the shell works again and the terminal is back in cooked mode.
pub fn assert_shell_usable(tmux: &Tmux, gone: &str) {
    tmux.wait_for("$");
    tmux.type_text("stty -a | grep -o -- '-*icanon'; echo end-$((1+1))");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("end-2");
    assert!(
        !screen.contains(gone),
        "the alternate screen is left:\n{screen}"
    );
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "cooked mode again:\n{screen}"
    );
}

/// `zdimport sandbox` served on a free port for the length of a test (killed when dropped):
/// an account that outlives the TUI, as a real one does.
pub struct Served {
    child: std::process::Child,
    pub url: String,
    pub email: String,
    pub token: String,
}

impl Served {
    pub fn start() -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zdimport"))
            .args(["sandbox", "--port", "0", "--speed", "20"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("zdimport sandbox");
        let stdout = child.stdout.take().expect("the sandbox's stdout");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let _listening = lines.next();
        let env_line = lines.next().and_then(Result::ok).unwrap_or_default();
        // The rest of its output is not read again: it serves on after the reader goes.
        let var = |name: &str| -> String {
            env_line
                .split_whitespace()
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} in {env_line:?}"))
                .to_owned()
        };
        Served {
            url: var("ZENDESK_URL"),
            email: var("ZENDESK_EMAIL"),
            token: var("ZENDESK_API_TOKEN"),
            child,
        }
    }

    /// The environment of an operator who signs in to it with OAuth client credentials.
    pub fn oauth_env(&self) -> String {
        format!(
            "ZENDESK_URL={} ZENDESK_CLIENT_ID=zdimport-service \
             ZENDESK_CLIENT_SECRET=sandbox-client-secret ZDIMPORT_KEYRING=memory",
            self.url
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills the program the tmux shell runs with SIGKILL and gives the shell back (the killed
/// program left the terminal raw and on the alternate screen; `then` runs after).
pub fn kill_and_recover(tmux: &Tmux, then: &str) {
    let pid = child_pid(tmux);
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Enter is a bare carriage return on a raw terminal: the line ends with C-j.
    tmux.type_text(&format!("stty sane; printf '\\033[?1049l'; clear; {then}"));
    tmux.keys(&["C-j"]);
    tmux.wait_for("$");
}

/// From the Sheet of a file just opened to Connect, in create mode: `ready` and `request`
/// are what Check and Preview say of it ("1000 ready", "Request 1 of 10").
pub fn to_connect_in_create_mode(tmux: &Tmux, ready: &str, request: &str) {
    tmux.wait_for("header on row 1");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Ready: n checks every row");
    tmux.keys(&["m", "m"]);
    tmux.wait_for("mode create");
    tmux.keys(&["n"]);
    tmux.wait_for(ready);
    tmux.keys(&["n"]);
    tmux.wait_for(request);
    tmux.keys(&["n"]);
    tmux.wait_for("Test the connection");
}
