//! Scale: `zdimport validate` of a 1,000,000-row, 10-column user list (CSV and xlsx) next to a
//! bare read of the same file, and `zdimport sandbox` holding 100,000 users imported into it.
//!
//! `cargo bench --bench scale [-- ROWS [SANDBOX_USERS]]` (or `SCALE_ROWS`, `SCALE_SANDBOX_USERS`;
//! `SCALE_RUNS` runs of each, 3 by default; `SCALE_DATA_DIR` keeps the generated files there
//! and reuses them, otherwise they go to a temporary directory). Linux only (`/proc`).
//!
//! Every measurement is a child process: `validate` is the real binary, the references are
//! this bench run as a child (`--phase`). Each child is started by a small watcher (this bench
//! again, `--measure`) that waits for it and reads `getrusage(RUSAGE_CHILDREN)`, so the peak
//! memory (max RSS) is that one child's. Runs alternate reference, ours, reference, ours, so a
//! busy machine slows both alike; each ratio is ours over the reference of the same round, and
//! the median ratio is reported.
//!
//! - CSV: the reference is a bare `csv` crate read of every record of the file.
//! - xlsx: the reference is calamine's streaming `worksheet_cells_reader` over every cell;
//!   `xlsx-text`, the same read copying each cell's text once, as a reader that keeps the
//!   values must (the first never looks at a shared string's bytes).
//! - sandbox: `zdimport import` of SANDBOX_USERS rows into a `zdimport sandbox` served with no
//!   rate or job limit; its peak and resident memory once it holds them all, and the import's
//!   own peak.
//! - TUI: the TUI's table loaded and checked to "Check done", against `zdimport validate` of the
//!   same CSV. The TUI needs a terminal, so this is a child (`--phase tui`) making the session
//!   calls the TUI makes: `session::source::load` (as the TUI's loader, with its progress), the
//!   automatic mapping, then `session::check::offline`, with the table still held.
//! - import: `zdimport import` of IMPORT_ROWS rows (`SCALE_IMPORT_ROWS`, 1,000,000 by default;
//!   0 leaves it out) next to the same import of 20,000 rows, each into a fresh served sandbox:
//!   the import's peak memory over the reference's (`SCALE_IMPORT_RUNS` rounds, 1 by default;
//!   `SCALE_IMPORT_BIN` runs another build's import, an earlier commit's, for a before and
//!   after). The files are CSV without the organization column, so no organization is looked
//!   up; `validate` of the same two files is shown beside, for what the sheet's checks alone
//!   take (their identifier fingerprints grow with the rows).
//!
//! - import-orgs, import-invalid, resume, retry: the same pair of imports with the organization
//!   column, with every third row invalid (skipped with its message), killed halfway and
//!   resumed, and every row ended unknown then retried.
//!
//! - import-planned: an import that goes through the account plan, each user joining two of 500
//!   organizations (an `Organizations` column, `Company a; Company b`; the sandbox allows
//!   several per user and creates them first): every user looked up before anything is sent,
//!   then the memberships added once the users exist. `SCALE_PLANNED_ROWS` rows (200,000 by
//!   default: each membership is a job's item, and a million take minutes) against 20,000.
//!
//! - import-companies: a sheet of organizations imported itself (`--object organizations`:
//!   name, external_id, domains, notes), every row looked up (`show_many` by external_id, then
//!   by name for those it misses) and created. `SCALE_COMPANY_ROWS` rows (100,000 by default)
//!   against 20,000; the time per row beside the peak, as its lookups once grew with the
//!   square of the rows.
//!
//! `SCALE_ONLY` (a comma list of any of csv, xlsx, xlsx-text, tui, import, import-orgs,
//! import-invalid, import-planned, import-companies, resume, retry, sandbox) measures only
//! those rows.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{Xlsx, open_workbook};

const DEFAULT_ROWS: u32 = 1_000_000;
const DEFAULT_SANDBOX_USERS: u32 = 100_000;
const DEFAULT_PLANNED_ROWS: u32 = 200_000;
const DEFAULT_COMPANY_ROWS: u32 = 100_000;
const HEADERS: [&str; 10] = [
    "Full Name",
    "E-mail",
    "Customer ID",
    "Company",
    "City",
    "Role",
    "Tags",
    "Time Zone",
    "Notes",
    "Signed Up",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("--phase") => return phase(&args[1], Path::new(&args[2])),
        Some("--measure") => return measure_child(&args[1..]),
        _ => {}
    }
    let number = |at: usize, var: &str, default: u32| {
        args.get(at)
            .cloned()
            .or_else(|| std::env::var(var).ok())
            .and_then(|a| a.replace('_', "").parse().ok())
            .unwrap_or(default)
    };
    let rows = number(0, "SCALE_ROWS", DEFAULT_ROWS);
    let sandbox_users = number(1, "SCALE_SANDBOX_USERS", DEFAULT_SANDBOX_USERS);
    let runs = std::env::var("SCALE_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let temp = tempfile::tempdir().expect("temp dir");
    let dir =
        std::env::var_os("SCALE_DATA_DIR").map_or_else(|| temp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("data dir");
    let home = temp.path().join("home");
    if rows > 0 {
        validate_rows(&dir, rows, runs, &home);
    }
    let import_rows = env_rows("SCALE_IMPORT_ROWS", DEFAULT_ROWS);
    if import_rows > 0 && only("import") {
        import_scale(&dir, import_rows, &home);
    }
    if import_rows > 0 && only("import-orgs") {
        import_orgs_scale(&dir, import_rows, &home);
    }
    if import_rows > 0 && only("import-invalid") {
        import_invalid_scale(&dir, import_rows, &home);
    }
    let planned_rows = env_rows("SCALE_PLANNED_ROWS", DEFAULT_PLANNED_ROWS);
    if planned_rows > 0 && only("import-planned") {
        import_planned_scale(&dir, planned_rows, &home);
    }
    let company_rows = env_rows("SCALE_COMPANY_ROWS", DEFAULT_COMPANY_ROWS);
    if company_rows > 0 && only("import-companies") {
        import_companies_scale(&dir, company_rows, &home);
    }
    if import_rows > 0 && only("resume") {
        resume_scale(&dir, import_rows, &home);
    }
    if import_rows > 0 && only("retry") {
        retry_scale(&dir, import_rows, &home);
    }
    if sandbox_users > 0 && only("sandbox") {
        let users = dir.join(format!("users_{sandbox_users}.csv"));
        if !users.exists() {
            write_csv(&users, sandbox_users);
        }
        sandbox(&users, sandbox_users, &home);
    }
}

/// A row count from the environment variable `var` (`1_000_000` as well as `1000000`), or
/// `default`.
fn env_rows(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The validate rows: CSV and xlsx of `rows` rows against their bare reads.
fn validate_rows(dir: &Path, rows: u32, runs: usize, home: &Path) {
    let csv = dir.join(format!("users_{rows}.csv"));
    let xlsx = dir.join(format!("users_{rows}.xlsx"));
    if !csv.exists() {
        write_csv(&csv, rows);
    }
    if !xlsx.exists() && (only("xlsx") || only("xlsx-text")) {
        write_xlsx(&xlsx, rows);
    }
    println!(
        "{rows} rows x {} columns; {runs} alternating runs each; median ratio of ours to the \
         reference of the same round\n",
        HEADERS.len()
    );
    println!(
        "{:<26} {:<36} {:>9} {:>10} {:>9} {:>10} {:>7} {:>7}",
        "path", "reference", "ref s", "ref MiB", "ours s", "ours MiB", "time", "memory"
    );
    let validate = |file: &Path| validate_command(file, home);
    if only("csv") {
        compare(
            "validate, CSV",
            "bare csv crate read",
            runs,
            &self_phase("csv-bare", &csv),
            &validate(&csv),
        );
    }
    if only("xlsx") {
        compare(
            "validate, xlsx",
            "calamine worksheet_cells_reader",
            runs,
            &self_phase("xlsx-cells", &xlsx),
            &validate(&xlsx),
        );
    }
    if only("xlsx-text") {
        compare(
            "validate, xlsx",
            "calamine, each cell's text copied",
            runs,
            &self_phase("xlsx-text", &xlsx),
            &validate(&xlsx),
        );
    }
    if only("tui") {
        tui_memory(&csv, runs, home);
    }
}

/// Whether `SCALE_ONLY` (a comma list of rows) leaves this row in; unset, every row is.
fn only(row: &str) -> bool {
    std::env::var("SCALE_ONLY").map_or(true, |v| v.split(',').any(|r| r.trim() == row))
}

/// The TUI with every row of `csv` loaded and checked (`--phase tui`), against `zdimport
/// validate` of the same file: time and peak memory.
fn tui_memory(csv: &Path, runs: usize, home: &Path) {
    compare(
        "TUI to Check done, CSV",
        "zdimport validate (same CSV)",
        runs,
        &validate_command(csv, home),
        &[
            self_phase("tui", csv),
            // The recent files the TUI remembers go to a scratch data dir.
            vec![format!(
                "--env=ZDIMPORT_DATA_DIR={}",
                home.join("data").display()
            )],
        ]
        .concat(),
    );
}

/// What the TUI does from picking the sheet to "Check done", without a terminal: the table
/// loaded by the TUI's loader, mapped automatically, checked offline; the table is still held
/// when the check ends, as the TUI holds it.
fn tui_phase(file: &Path) -> u64 {
    use zdimport::session::{check, source};
    let mut opened = source::open(file).expect("open");
    let sheet = opened.workbook.default_sheet();
    let table = source::load(
        &mut opened.workbook,
        (sheet, zdimport::sheet::HeaderChoice::Auto),
        20_000,
        |p| {
            std::hint::black_box(p);
        },
        || false,
    )
    .expect("load")
    .expect("not stopped");
    let mapping = zdimport::mapping::auto_match(&table.layout.headers);
    let options = zdimport::payload::Options::default();
    let report = check::offline(&table, &mapping, &options, &|| false).expect("checked");
    std::hint::black_box(&table);
    report.rows()
}

/// One round's figures: wall seconds and peak memory in KiB.
#[derive(Clone, Copy)]
struct Figure {
    secs: f64,
    peak_kib: u64,
}

fn compare(path: &str, reference: &str, runs: usize, theirs: &[String], ours: &[String]) {
    let mut rounds: Vec<(Figure, Figure)> = (0..runs)
        .map(|_| (measure(theirs), measure(ours)))
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let time = median(rounds.iter().map(|(r, o)| o.secs / r.secs).collect());
    let memory = median(
        rounds
            .iter()
            .map(|(r, o)| o.peak_kib as f64 / r.peak_kib as f64)
            .collect(),
    );
    rounds.sort_by(|a, b| a.1.secs.total_cmp(&b.1.secs));
    let (r, o) = rounds[rounds.len() / 2];
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "{path:<26} {reference:<36} {:>9.2} {:>10.1} {:>9.2} {:>10.1} {time:>6.2}x {memory:>6.2}x",
        r.secs,
        mib(r.peak_kib),
        o.secs,
        mib(o.peak_kib),
    );
}

/// This bench as a child reading `file` the reference way.
fn self_phase(phase: &str, file: &Path) -> Vec<String> {
    let exe = std::env::current_exe().expect("own path");
    vec![
        exe.display().to_string(),
        "--phase".into(),
        phase.into(),
        file.display().to_string(),
    ]
}

fn validate_command(file: &Path, home: &Path) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_zdimport").into(),
        "validate".into(),
        file.display().to_string(),
        "--auto".into(),
        // Scratch config and data dirs: no saved profile of the operator's is read.
        format!(
            "--env=ZDIMPORT_CONFIG_DIR={}",
            home.join("config").display()
        ),
        format!("--env=ZDIMPORT_DATA_DIR={}", home.join("data").display()),
    ]
}

/// Runs `command` under a watcher (this bench, `--measure`) and reads its figures.
fn measure(command: &[String]) -> Figure {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("--measure")
        .args(command)
        .output()
        .expect("run the watcher");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{command:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts = text.split_whitespace();
    let mut next = || parts.next().expect("watcher output").to_owned();
    Figure {
        secs: next().parse().expect("seconds"),
        peak_kib: next().parse().expect("KiB"),
    }
}

/// The watcher: runs the command (its `--env=K=V` arguments set its environment), waits, and
/// prints its wall seconds and max RSS in KiB. Exit 1 from `validate` (rows with errors) is
/// a finished run.
fn measure_child(command: &[String]) {
    let mut child = command_of(command);
    let started = Instant::now();
    let status = child.status().expect("start the measured command");
    let secs = started.elapsed().as_secs_f64();
    let args: Vec<&String> = command
        .iter()
        .filter(|a| !a.starts_with("--env="))
        .collect();
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{args:?} ended with {status}"
    );
    println!("{secs} {}", children_max_rss_kib());
}

/// `command` (its `--env=K=V` arguments set its environment), its output dropped (its
/// messages kept).
fn command_of(command: &[String]) -> Command {
    let (env, args): (Vec<&String>, Vec<&String>) =
        command.iter().partition(|a| a.starts_with("--env="));
    let mut child = Command::new(args[0]);
    child.args(&args[1..]).stdout(Stdio::null());
    for pair in env {
        let (key, value) = pair["--env=".len()..].split_once('=').expect("K=V");
        child.env(key, value);
    }
    child
}

/// `command` started (not measured: the import a resume or retry continues).
fn spawn(command: &[String]) -> std::process::Child {
    command_of(command).spawn().expect("start zdimport")
}

#[cfg(target_os = "linux")]
fn children_max_rss_kib() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    // Linux reports ru_maxrss in KiB; the largest waited-for child, and there was one.
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    u64::try_from(usage.max_rss()).unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
fn children_max_rss_kib() -> u64 {
    0
}

/// A reference read, in a child of its own.
fn phase(phase: &str, file: &Path) {
    let count = match phase {
        "xlsx-cells" => {
            let mut wb: Xlsx<_> = open_workbook(file).expect("open");
            let mut reader = wb.worksheet_cells_reader("Users").expect("reader");
            let mut n = 0u64;
            while let Some(cell) = reader.next_cell().expect("cell") {
                std::hint::black_box(cell);
                n += 1;
            }
            n
        }
        // The same read, each cell's text copied once (what any reader that keeps the
        // values does; the reference above never looks at a shared string's bytes).
        "xlsx-text" => {
            let mut wb: Xlsx<_> = open_workbook(file).expect("open");
            let mut reader = wb.worksheet_cells_reader("Users").expect("reader");
            let mut text = String::new();
            let mut n = 0u64;
            while let Some(cell) = reader.next_cell().expect("cell") {
                text.clear();
                match cell.get_value() {
                    calamine::DataRef::SharedString(s) => text.push_str(s),
                    calamine::DataRef::String(s) => text.push_str(s),
                    _ => {}
                }
                std::hint::black_box(&text);
                n += 1;
            }
            n
        }
        "csv-bare" => {
            let mut reader = csv::Reader::from_path(file).expect("csv");
            let mut record = csv::StringRecord::new();
            let mut n = 0u64;
            while reader.read_record(&mut record).expect("record") {
                n += record.len() as u64;
            }
            n
        }
        "tui" => tui_phase(file),
        other => panic!("unknown phase {other}"),
    };
    std::hint::black_box(count);
}

/// `zdimport import` of every row of `users` into a served sandbox without limits, then the
/// sandbox's memory while it holds them.
fn sandbox(users: &Path, count: u32, home: &Path) {
    let (mut child, url) = served_sandbox();
    let empty = proc_status_kib(child.id(), "VmRSS:");
    let import = measure(&import_command(users, &url, home));
    // Jobs end on the sandbox's clock: give the last ones a moment.
    std::thread::sleep(Duration::from_millis(500));
    let rss = proc_status_kib(child.id(), "VmRSS:");
    let peak = proc_status_kib(child.id(), "VmHWM:");
    let _killed = child.kill();
    let _waited = child.wait();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\nzdimport sandbox holding {count} users (imported in {:.1} s; import peak {:.1} MiB):\n  \
         peak {:.1} MiB, resident {:.1} MiB (empty: {:.1} MiB)",
        import.secs,
        mib(import.peak_kib),
        mib(peak),
        mib(rss),
        mib(empty),
    );
}

/// The import row: the import of `rows` rows against the same import of [`IMPORT_REFERENCE`]
/// rows, peak memory of each (its own process, not the sandbox's), runs alternating.
fn import_scale(dir: &Path, rows: u32, home: &Path) {
    let (small, big) = import_row("import", (dir, rows, Sheet::Plain), |users, _| {
        import_into_sandbox(users, home)
    });
    let validate = (
        measure(&validate_command(&small, home)),
        measure(&validate_command(&big, home)),
    );
    println!(
        "  validate of the same files: peak {:.1} MiB and {:.1} MiB ({:.2}x)",
        mib(validate.0.peak_kib),
        mib(validate.1.peak_kib),
        validate.1.peak_kib as f64 / validate.0.peak_kib as f64,
    );
}

/// The `import-orgs` row: as the import row, with the organization column: 5,000 names
/// (`Company {i % 5000}`), none in the fresh sandbox, so each import reads them from its plan
/// file, looks them up, rewrites its bodies, creates them first and sends its users by id.
fn import_orgs_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "import naming 5,000 organizations";
    import_row(what, (dir, rows, Sheet::Organizations), |users, _| {
        import_into_sandbox(users, home)
    });
}

/// The `import-invalid` row: as the import row, every third row with an email that is not
/// one (`user3 at example.com`): a third of the rows skipped, each with its message, through
/// the check, the plan, the journal and the report.
fn import_invalid_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "import with every third row invalid";
    import_row(what, (dir, rows, Sheet::ThirdInvalid), |users, _| {
        import_into_sandbox(users, home)
    });
}

/// The `import-planned` row: as the import row, each user joining two organizations, so the
/// import makes the account plan (a part at a time) and adds the memberships after the users.
fn import_planned_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "import through the account plan, two organizations a user";
    import_row(what, (dir, rows, Sheet::Memberships), |users, _| {
        let sandbox = ["--multiple-organizations", "on"];
        import_into_sandbox_with(users, home, (&sandbox, &["--missing-orgs", "create"]))
    });
}

/// The `import-companies` row: a sheet of organizations imported itself, so the import plans
/// every row against the account (each looked up, then sent to `create_many` or
/// `update_many`).
fn import_companies_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "import of a sheet of organizations";
    import_row(what, (dir, rows, Sheet::Companies), |companies, _| {
        import_into_sandbox_with(companies, home, (&[], &["--object", "organizations"]))
    });
}

/// The `resume` row: an import killed about halfway through (its journal half written), then
/// `zdimport resume` of it against the same served sandbox, measured.
fn resume_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "resume of an import killed halfway";
    import_row(what, (dir, rows, Sheet::Plain), |users, n| {
        resume_in_sandbox(users, n, home)
    });
}

/// The `retry` row: an import whose every job fails (a sandbox with `--faults failed=1`), so
/// every row ends unknown; then `zdimport retry` of it into a fresh sandbox, measured: every
/// row is looked up (it may have been created) and sent again.
fn retry_scale(dir: &Path, rows: u32, home: &Path) {
    let what = "retry of every row unknown";
    import_row(what, (dir, rows, Sheet::Plain), |users, _| {
        retry_in_sandbox(users, home)
    });
}

/// One row of the import's figures: `measure` (of a file and its rows) of the reference file
/// and of the `rows`-row one (with the organization column or not), runs alternating,
/// printed as `what`; the two files.
fn import_row(
    what: &str,
    (dir, rows, sheet): (&Path, u32, Sheet),
    measure: impl Fn(&Path, u32) -> Figure,
) -> (PathBuf, PathBuf) {
    let small = import_file(dir, IMPORT_REFERENCE, sheet);
    let big = import_file(dir, rows, sheet);
    let runs = import_runs();
    let figures = alternate(
        runs,
        || measure(&small, IMPORT_REFERENCE),
        || measure(&big, rows),
    );
    print_import_row(what, rows, runs, figures);
    (small, big)
}

/// Rounds of the import rows (`SCALE_IMPORT_RUNS`, 1 by default).
fn import_runs() -> usize {
    std::env::var("SCALE_IMPORT_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1usize)
        .max(1)
}

/// `runs` rounds of the reference then ours: the median round (by ours' time) and the median
/// ratio of ours' peak over the reference's of the same round.
fn alternate(
    runs: usize,
    mut reference: impl FnMut() -> Figure,
    mut ours: impl FnMut() -> Figure,
) -> (Figure, Figure, f64) {
    let mut rounds: Vec<(Figure, Figure)> = (0..runs).map(|_| (reference(), ours())).collect();
    let mut ratios: Vec<f64> = rounds
        .iter()
        .map(|(r, o)| o.peak_kib as f64 / r.peak_kib as f64)
        .collect();
    ratios.sort_by(f64::total_cmp);
    rounds.sort_by(|a, b| a.1.secs.total_cmp(&b.1.secs));
    let (r, o) = rounds[rounds.len() / 2];
    (r, o, ratios[ratios.len() / 2])
}

fn print_import_row(what: &str, rows: u32, runs: usize, (r, o, ratio): (Figure, Figure, f64)) {
    println!(
        "\n{what}, {rows} rows vs {IMPORT_REFERENCE} rows (served sandbox, {runs} alternating \
         runs; median):\n  {IMPORT_REFERENCE} rows: {:.1} s, peak {:.1} MiB\n  {rows} rows: {:.1} \
         s, peak {:.1} MiB\n  peak memory {ratio:.2}x the reference's; time a row {:.2}x",
        r.secs,
        mib(r.peak_kib),
        o.secs,
        mib(o.peak_kib),
        (o.secs / f64::from(rows)) / (r.secs / f64::from(IMPORT_REFERENCE)),
    );
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The reference of the import rows.
const IMPORT_REFERENCE: u32 = 20_000;

/// The import rows' file of `rows` rows, written once: with the organization column or not.
fn import_file(dir: &Path, rows: u32, sheet: Sheet) -> PathBuf {
    let name = match sheet {
        Sheet::Plain => format!("import_{rows}.csv"),
        Sheet::Organizations => format!("import_orgs_{rows}.csv"),
        Sheet::ThirdInvalid => format!("import_invalid_{rows}.csv"),
        Sheet::Memberships => format!("import_members_{rows}.csv"),
        Sheet::Companies => format!("import_companies_{rows}.csv"),
    };
    let path = dir.join(name);
    if !path.exists() {
        write_import_csv(&path, rows, sheet);
    }
    path
}

/// The import rows' sheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sheet {
    Plain,
    /// With the organization column.
    Organizations,
    /// Every third row's email not an email.
    ThirdInvalid,
    /// Each user joining two of 500 organizations (an `Organizations` column).
    Memberships,
    /// Organizations, not users: name, external_id, domains, notes.
    Companies,
}

/// `zdimport import` of every row of `users` into a fresh served sandbox without limits, that
/// holds them all; the import's figures.
fn import_into_sandbox(users: &Path, home: &Path) -> Figure {
    import_into_sandbox_with(users, home, (&[], &[]))
}

/// [`import_into_sandbox`] with more of `zdimport sandbox`'s options and of the import's.
fn import_into_sandbox_with(
    users: &Path,
    home: &Path,
    (sandbox, import): (&[&str], &[&str]),
) -> Figure {
    let (mut child, url) = served_sandbox_with(sandbox);
    let mut command = import_command(users, &url, home);
    command.extend(import.iter().map(|a| (*a).to_owned()));
    let figure = measure(&command);
    let _killed = child.kill();
    let _waited = child.wait();
    figure
}

/// Journal bytes a row's `sending` and `resolved` lines take, about: an import is killed once
/// its journal holds half its rows' worth.
const JOURNAL_BYTES_PER_ROW: u64 = 170;

/// An import of `users` (`rows` rows) killed about halfway, then `zdimport resume` of it,
/// measured, in a data dir of its own (removed after).
fn resume_in_sandbox(users: &Path, rows: u32, home: &Path) -> Figure {
    let home = own_home(home, "resume");
    let (mut sandbox, url) = served_sandbox();
    let mut import = spawn(&import_command(users, &url, home.path()));
    let runs = home.path().join("data").join("runs");
    let half = u64::from(rows) * JOURNAL_BYTES_PER_ROW / 2;
    while journal_bytes(&runs) < half {
        let ended = import.try_wait().expect("the import");
        assert!(
            ended.is_none(),
            "the import ended before half its rows: {ended:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _killed = import.kill();
    let _waited = import.wait();
    let resume = run_command("resume", &only_run(&runs), &url, home.path());
    let figure = measure(&resume);
    let _killed = sandbox.kill();
    let _waited = sandbox.wait();
    figure
}

/// An import of `users` whose every job fails, then `zdimport retry` of it into a fresh
/// sandbox, measured, in a data dir of its own (removed after).
fn retry_in_sandbox(users: &Path, home: &Path) -> Figure {
    let home = own_home(home, "retry");
    let (mut failing, url) = served_sandbox_with(&["--faults", "failed=1"]);
    let status = spawn(&import_command(users, &url, home.path()))
        .wait()
        .expect("the failing import");
    assert!(status.code().is_some(), "the failing import: {status}");
    let _killed = failing.kill();
    let _waited = failing.wait();
    let (mut sandbox, url) = served_sandbox();
    let runs = home.path().join("data").join("runs");
    let mut retry = run_command("retry", &only_run(&runs), &url, home.path());
    retry.push("--yes".into());
    let figure = measure(&retry);
    let _killed = sandbox.kill();
    let _waited = sandbox.wait();
    figure
}

/// A scratch home (config and data dirs) of its own under `home`, removed when dropped: a
/// 1,000,000-row run folder takes about 500 MB.
fn own_home(home: &Path, what: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(home).expect("home");
    tempfile::Builder::new()
        .prefix(what)
        .tempdir_in(home)
        .expect("scratch home")
}

/// The size of the (only) run's journal under `runs`, 0 before it exists.
fn journal_bytes(runs: &Path) -> u64 {
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|run| std::fs::metadata(run.path().join("journal.jsonl")).ok())
        .map(|m| m.len())
        .sum()
}

/// The id of the one run under `runs`.
fn only_run(runs: &Path) -> String {
    let ids: Vec<String> = std::fs::read_dir(runs)
        .expect("runs")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(ids.len(), 1, "one run in {}: {ids:?}", runs.display());
    ids[0].clone()
}

/// `zdimport resume RUN` or `zdimport retry RUN` against `url`, with the scratch dirs.
fn run_command(command: &str, run: &str, url: &str, home: &Path) -> Vec<String> {
    let mut args = vec![zdimport_bin(), command.into(), run.into()];
    args.extend(["--url".into(), url.to_owned(), "--quiet".into()]);
    args.extend(scratch_env(home));
    args
}

/// `zdimport sandbox` served with no rate or job limit, and its URL.
fn served_sandbox() -> (std::process::Child, String) {
    served_sandbox_with(&[])
}

/// [`served_sandbox`] with more of `zdimport sandbox`'s options (`--faults`).
fn served_sandbox_with(more: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args(["sandbox", "--port", "0", "--rate-limit", "1000000"])
        .args(["--job-limit", "1000", "--job-queue-time", "0"])
        .args(["--job-time-per-user", "0", "--speed", "100"])
        .args(more)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start zdimport sandbox");
    let stdout = child.stdout.take().expect("sandbox stdout");
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("sandbox URL");
    // Keep reading: a closed pipe would end the sandbox at its next line.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = line.split_whitespace().last().expect("URL").to_owned();
    (child, url)
}

/// `zdimport import FILE --auto --mode create --url URL --yes` with scratch dirs and the
/// sandbox's credentials.
fn import_command(users: &Path, url: &str, home: &Path) -> Vec<String> {
    let mut args = vec![zdimport_bin(), "import".into(), users.display().to_string()];
    args.extend(
        [
            "--auto", "--mode", "create", "--url", url, "--yes", "--quiet",
        ]
        .map(String::from),
    );
    args.extend(scratch_env(home));
    args
}

/// The zdimport whose import, resume and retry are measured: this build's, or another's
/// (`SCALE_IMPORT_BIN`, an earlier commit's) for a before-and-after in one sitting.
fn zdimport_bin() -> String {
    std::env::var("SCALE_IMPORT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_zdimport").to_owned())
}

/// Scratch config and data dirs under `home`, and the sandbox's credentials, as `--env=`
/// arguments.
fn scratch_env(home: &Path) -> Vec<String> {
    vec![
        format!(
            "--env=ZDIMPORT_CONFIG_DIR={}",
            home.join("config").display()
        ),
        format!("--env=ZDIMPORT_DATA_DIR={}", home.join("data").display()),
        "--env=ZDIMPORT_KEYRING=memory".into(),
        "--env=ZENDESK_EMAIL=admin@sandbox.example".into(),
        "--env=ZENDESK_API_TOKEN=sandbox-api-token".into(),
    ]
}

/// The import rows' file: the scale rows, with or without the organization column (a sheet
/// naming organizations has them looked up and created first: the `import-orgs` row), or
/// every third row's email broken (the `import-invalid` row).
fn write_import_csv(path: &Path, rows: u32, sheet: Sheet) {
    eprintln!("writing {}", path.display());
    if sheet == Sheet::Companies {
        return write_companies_csv(path, rows);
    }
    let named = matches!(sheet, Sheet::Organizations | Sheet::Memberships);
    let columns: Vec<usize> = (0..HEADERS.len())
        .filter(|&c| named || HEADERS[c] != "Company")
        .collect();
    let header = |c: usize| match (sheet, HEADERS[c]) {
        (Sheet::Memberships, "Company") => "Organizations",
        (_, header) => header,
    };
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(columns.iter().map(|&c| header(c)))
        .expect("header");
    for i in 0..rows {
        let mut user = user(i);
        if sheet == Sheet::ThirdInvalid && i % 3 == 1 {
            user[1] = format!("user{i} at example.com");
        }
        if sheet == Sheet::Memberships {
            user[3] = format!("Company {}; Company {}", i % 500, (i * 7 + 3) % 500);
        }
        w.write_record(columns.iter().map(|&c| user[c].as_str()))
            .expect("row");
    }
    w.flush().expect("flush");
}

/// The `import-companies` row's sheet: `rows` organizations, each with an external id and a
/// domain.
fn write_companies_csv(path: &Path, rows: u32) {
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(["Name", "External ID", "Domains", "Notes"])
        .expect("header");
    for i in 0..rows {
        let row = [
            format!("Company {i}"),
            format!("ORG-{i:07}"),
            format!("company{i}.example.com"),
            format!("Imported from the CRM, account {}", i % 97),
        ];
        w.write_record(&row).expect("row");
    }
    w.flush().expect("flush");
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Row `i`: columns a real export has, most of them mapped by `--auto`. No phone column: the
/// phone parser (libphonenumber's rules) would cost more than everything else together, and
/// it is not what these rows measure.
fn user(i: u32) -> [String; 10] {
    [
        format!("User {i}"),
        format!("user{i}@example.com"),
        format!("C{:08}", 100_000 + i),
        format!("Company {}", i % 5000),
        ["Lisbon", "Porto", "Faro", "Braga"][(i % 4) as usize].to_owned(),
        if i % 100 == 0 { "agent" } else { "end-user" }.to_owned(),
        if i % 3 == 0 {
            "vip, newsletter"
        } else {
            "newsletter"
        }
        .to_owned(),
        "Eastern Time (US & Canada)".to_owned(),
        format!("Imported from the CRM, account {}", i % 977),
        format!("2024-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
    ]
}

fn write_csv(path: &Path, rows: u32) {
    eprintln!("writing {}", path.display());
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(HEADERS).expect("header");
    for i in 0..rows {
        w.write_record(user(i)).expect("row");
    }
    w.flush().expect("flush");
}

fn write_xlsx(path: &Path, rows: u32) {
    eprintln!("writing {}", path.display());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet_with_low_memory();
    sheet.set_name("Users").expect("name");
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write(0, c as u16, *h).expect("header");
    }
    for i in 0..rows {
        let r = i + 1;
        for (c, v) in user(i).iter().enumerate() {
            sheet.write(r, c as u16, v.as_str()).expect("cell");
        }
    }
    book.save(path).expect("save");
}
