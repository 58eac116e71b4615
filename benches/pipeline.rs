//! Loading, cleaning, validating and building payloads for a 1,000,000-row xlsx and csv,
//! next to bare calamine and csv reads of the same files, in the same run.
//!
//! `cargo bench --bench pipeline [-- ROWS]`. Each measurement runs in a child process of this
//! binary so that its peak memory (VmHWM) is its own; each is run 3 times and the median time
//! is reported with the peak memory, and ratios against the references.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use calamine::{Reader, Xlsx, open_workbook};
use zdimport::mapping::auto_match;
use zdimport::payload::Mode;
use zdimport::pipeline::{self, Options};
use zdimport::sheet::{HeaderChoice, Workbook};

const DEFAULT_ROWS: u32 = 1_000_000;
const RUNS: usize = 3;
const HEADERS: [&str; 8] = [
    "Full Name",
    "E-mail",
    "Customer ID",
    "Phone",
    "Company",
    "Role",
    "Tags",
    "Plan",
];

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(i) = args.iter().position(|a| a == "--phase") {
        let phase = &args[i + 1];
        let file = PathBuf::from(&args[i + 2]);
        let started = Instant::now();
        let count = run_phase(phase, &file);
        let secs = started.elapsed().as_secs_f64();
        println!("{secs} {} {count}", peak_rss_kib());
        return;
    }
    let rows = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(DEFAULT_ROWS);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data dir");
    let xlsx = dir.join(format!("users_{rows}.xlsx"));
    let csv = dir.join(format!("users_{rows}.csv"));
    if !xlsx.exists() {
        write_xlsx(&xlsx, rows);
    }
    if !csv.exists() {
        write_csv(&csv, rows);
    }
    println!("{rows} rows; median of {RUNS} runs; peak = VmHWM of the process\n");
    let range = measure("xlsx: calamine worksheet_range", "xlsx-range", &xlsx);
    let cells = measure("xlsx: calamine worksheet_cells_reader", "xlsx-cells", &xlsx);
    let ours = measure("xlsx: zdimport pipeline", "pipeline", &xlsx);
    report_ratio("pipeline / worksheet_range", &ours, &range);
    report_ratio("pipeline / cells_reader", &ours, &cells);
    println!();
    let bare = measure("csv: csv crate read", "csv-bare", &csv);
    let ours_csv = measure("csv: zdimport pipeline", "pipeline", &csv);
    report_ratio("pipeline / csv read", &ours_csv, &bare);
}

struct Figure {
    secs: f64,
    peak_kib: u64,
}

fn measure(label: &str, phase: &str, file: &Path) -> Figure {
    let exe = std::env::current_exe().expect("own path");
    let mut runs: Vec<(f64, u64, u64)> = (0..RUNS)
        .map(|_| {
            let out = Command::new(&exe)
                .args(["--phase", phase])
                .arg(file)
                .output()
                .expect("run phase");
            assert!(
                out.status.success(),
                "{phase}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let mut parts = text.split_whitespace();
            let mut next = || parts.next().expect("phase output").to_owned();
            (
                next().parse().expect("secs"),
                next().parse().expect("kib"),
                next().parse().expect("count"),
            )
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (secs, peak_kib, count) = runs[RUNS / 2];
    println!(
        "{label:<40} {secs:>7.2} s  {:>7.1} MiB  ({count} items)",
        peak_kib as f64 / 1024.0
    );
    Figure { secs, peak_kib }
}

fn report_ratio(label: &str, ours: &Figure, reference: &Figure) {
    println!(
        "  {label:<38} time {:.2}x  memory {:.2}x",
        ours.secs / reference.secs,
        ours.peak_kib as f64 / reference.peak_kib as f64
    );
}

fn run_phase(phase: &str, file: &Path) -> u64 {
    match phase {
        "xlsx-range" => {
            let mut wb: Xlsx<_> = open_workbook(file).expect("open");
            let range = wb.worksheet_range("Users").expect("range");
            range.used_cells().count() as u64
        }
        "xlsx-cells" => {
            let mut wb: Xlsx<_> = open_workbook(file).expect("open");
            let mut reader = wb.worksheet_cells_reader("Users").expect("reader");
            let mut n = 0;
            while let Some(cell) = reader.next_cell().expect("cell") {
                std::hint::black_box(cell);
                n += 1;
            }
            n
        }
        "csv-bare" => {
            let mut reader = csv::Reader::from_path(file).expect("csv");
            let mut record = csv::StringRecord::new();
            let mut n = 0;
            while reader.read_record(&mut record).expect("record") {
                n += record.len() as u64;
            }
            n
        }
        "pipeline" => run_pipeline(file),
        other => panic!("unknown phase {other}"),
    }
}

/// What `zdimport preview` does: load, clean, validate, build and serialise every request.
fn run_pipeline(file: &Path) -> u64 {
    let mut wb = Workbook::open(file).expect("open");
    let mut bytes = 0u64;
    let mut issues = 0u64;
    let headers: Vec<String> = HEADERS.iter().map(|h| (*h).to_owned()).collect();
    let mapping = auto_match(&headers);
    let options = Options {
        mode: Mode::Upsert,
        ..Options::default()
    };
    pipeline::run(
        &mut wb,
        0,
        HeaderChoice::Auto,
        &mapping,
        &options,
        |event| {
            match event {
                pipeline::Event::Request(r) => {
                    bytes += serde_json::to_vec(&r).expect("json").len() as u64
                }
                pipeline::Event::Issue(_) => issues += 1,
            }
            ControlFlow::Continue(())
        },
    )
    .expect("pipeline");
    std::hint::black_box(issues);
    bytes
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn user(i: u32) -> [String; 8] {
    [
        format!("User {i}"),
        format!("user{i}@example.com"),
        String::new(),
        String::new(),
        format!("Company {}", i % 5000),
        if i % 100 == 0 { "agent" } else { "end-user" }.to_owned(),
        if i % 3 == 0 {
            "vip, newsletter"
        } else {
            "newsletter"
        }
        .to_owned(),
        ["Gold", "Silver", "Bronze"][(i % 3) as usize].to_owned(),
    ]
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
        let u = user(i);
        for (c, v) in u.iter().enumerate() {
            match c {
                // Ids and phones as Excel stores them: floats.
                2 => sheet.write(r, 2, f64::from(100_000 + i)).map(|_| ()),
                3 => sheet
                    .write(r, 3, 4_930_000_000.0 + f64::from(i))
                    .map(|_| ()),
                _ => sheet.write(r, c as u16, v.as_str()).map(|_| ()),
            }
            .expect("cell");
        }
    }
    book.save(path).expect("save");
}

fn write_csv(path: &Path, rows: u32) {
    eprintln!("writing {}", path.display());
    let mut w = csv::Writer::from_path(path).expect("csv");
    w.write_record(HEADERS).expect("header");
    for i in 0..rows {
        let mut u = user(i);
        u[2] = (100_000 + i).to_string();
        u[3] = (4_930_000_000u64 + u64::from(i)).to_string();
        w.write_record(&u).expect("row");
    }
    w.flush().expect("flush");
}
