//! Every worksheet of every real file in `tests/fixtures/worksheets` reads exactly as it did
//! when this snapshot was taken: its layout, blank rows, encoding notes and a digest of every
//! row's cells (types and values), so a faster reader cannot change a single cell unseen.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};
use zdimport::sheet::{HeaderChoice, SheetKind, Workbook};

#[test]
fn every_fixture_reads_as_before() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/worksheets");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut out = String::new();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut wb = Workbook::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        writeln!(out, "{name}").unwrap();
        if let Some(text) = wb.delimited() {
            writeln!(
                out,
                "  {} delimiter {:?} sep_line {} notes {:?}",
                text.encoding,
                char::from(text.delimiter),
                text.sep_line,
                text.notes
            )
            .unwrap();
        }
        for i in 0..wb.sheets().len() {
            let info = wb.sheets()[i].clone();
            if info.kind != SheetKind::Worksheet {
                writeln!(out, "  {:?}: {:?}", info.name, info.kind).unwrap();
                continue;
            }
            let preview = wb.preview(i, 12).map(|rows| digest(&format!("{rows:?}")));
            match wb.load_table(i, HeaderChoice::Auto) {
                Ok(t) => writeln!(
                    out,
                    "  {:?}: header row {} from column {}, {} rows, {} blank, {:?}\n    rows {}\n    \
                     preview {}",
                    info.name,
                    t.layout.header_row,
                    t.layout.first_column,
                    t.len(),
                    t.blank_rows,
                    t.layout.headers,
                    digest(&format!("{:?}", t.to_rows())),
                    preview.unwrap_or_else(|e| e.to_string()),
                ),
                // Where the checkout is does not belong in the snapshot.
                Err(e) => writeln!(
                    out,
                    "  {:?}: {}",
                    info.name,
                    e.to_string()
                        .replace(&dir.display().to_string(), "<fixtures>")
                ),
            }
            .unwrap();
        }
    }
    insta::assert_snapshot!(out);
}

fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(12).fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}
