//! Hostile workbooks and text files: each is generated here, small on disk, and must end in a
//! clear error (or a warning) in bounded time and memory.
//!
//! Before these fixes each workbook below made zdimport allocate gigabytes and abort; the tests
//! assert the error, so none of them allocates much once the guard is in.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use zdimport::sheet::{HeaderChoice, Workbook};

/// A plain two-column workbook from rust_xlsxwriter.
fn plain_xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    sheet.write_string(0, 1, "email").unwrap();
    sheet.write_string(1, 0, "Ann").unwrap();
    sheet.write_string(1, 1, "ann@example.com").unwrap();
    book.save_to_buffer().unwrap()
}

/// Rewrites the zip `package`, passing each entry's bytes through `patch`; entries are deflated,
/// so a bomb stays small on disk.
fn repack(package: &[u8], path: &Path, mut patch: impl FnMut(&str, Vec<u8>) -> Vec<u8>) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(package)).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let bytes = patch(&name, bytes);
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(bytes.len() > u32::MAX as usize);
        out.start_file(&name, deflated).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

/// A copy of the plain workbook whose first sheet's XML is `patch`ed as text.
fn patched_xlsx(dir: &Path, name: &str, patch: impl Fn(String) -> String) -> PathBuf {
    let path = dir.join(name);
    repack(&plain_xlsx(), &path, |entry, bytes| {
        if entry == "xl/worksheets/sheet1.xml" {
            let xml = String::from_utf8(bytes).unwrap();
            let patched = patch(xml.clone());
            assert_ne!(patched, xml, "the sheet XML was patched");
            patched.into_bytes()
        } else {
            bytes
        }
    });
    path
}

/// Opens and reads the whole first sheet, returning the error's text.
fn read_error(path: &Path) -> String {
    let result = Workbook::open(path).and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto));
    match result {
        Ok(table) => panic!("{} read {} rows", path.display(), table.rows.len()),
        Err(e) => e.to_string(),
    }
}

/// `FXSHRXW5` is column 2.3 billion: reading it used to abort allocating 64 GiB.
#[test]
fn a_cell_beyond_excels_grid_is_refused_with_its_sheet_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    for reference in ["FXSHRXW5", "ZZZZZ2", "XFE2", "A1048577"] {
        let path = patched_xlsx(dir.path(), "far.xlsx", |xml| {
            xml.replace(r#"r="B2""#, &format!(r#"r="{reference}""#))
        });
        let error = read_error(&path);
        assert!(error.contains("sheet 'Sheet1'"), "{error}");
        assert!(error.contains(reference), "{error}");
        assert!(error.contains("16,384 columns"), "{error}");
    }
}
