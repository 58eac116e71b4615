//! Hostile workbooks and text files: each is generated here, small on disk, and must end in a
//! clear error (or a warning) in bounded time and memory.
//!
//! Before these fixes each workbook below made zdimport allocate gigabytes and abort; the tests
//! assert the error, so none of them allocates much once the guard is in.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use zdimport::sheet::{HeaderChoice, Limits, Workbook};

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

/// Opens and reads the whole first sheet (limits from the environment), returning the error.
fn read_error(path: &Path) -> String {
    read_error_within(path, &Limits::from_env())
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

/// Reads the whole first sheet within `limits`, returning the error's text.
fn read_error_within(path: &Path, limits: &Limits) -> String {
    let result =
        Workbook::open_with(path, limits).and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto));
    match result {
        Ok(table) => panic!("{} read {} rows", path.display(), table.len()),
        Err(e) => e.to_string(),
    }
}

/// A 3 GiB cell in a 3 MB file took 3 GB and then aborted; a 4 MiB cell (4 KiB on disk) is
/// enough to show it is refused at the default limit, before calamine inflates it.
#[test]
fn a_huge_cell_is_refused_naming_the_limit_and_how_to_lift_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = patched_xlsx(dir.path(), "cell.xlsx", |xml| {
        let huge = format!(
            r#"<c r="B2" t="inlineStr"><is><t>{}</t></is></c>"#,
            "a".repeat(4 << 20)
        );
        let start = xml.find(r#"<c r="B2""#).unwrap();
        let end = start + xml[start..].find("</c>").unwrap() + 4;
        format!("{}{huge}{}", &xml[..start], &xml[end..])
    });
    assert!(std::fs::metadata(&path).unwrap().len() < 64 * 1024);
    let error = read_error(&path);
    assert!(error.contains("xl/worksheets/sheet1.xml"), "{error}");
    assert!(error.contains("a cell or string"), "{error}");
    assert!(error.contains("set ZDIMPORT_MAX_CELL_BYTES="), "{error}");
    let lifted = Limits {
        cell_bytes: 8 << 20,
        ..Limits::default()
    };
    let table = Workbook::open_with(&path, &lifted)
        .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
        .unwrap();
    assert_eq!(
        table.to_rows()[0].cells[1].display().len(),
        4 << 20,
        "lifted, it reads"
    );
}

/// `n` rows of text that deflate poorly (pseudo-random, 6 bits a character), from row `first`,
/// as sheet XML. No `_`: `_x0DF2_` is an escape in a workbook's text.
fn noisy_rows(first: u32, n: u32) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut xml = String::new();
    for r in first..first + n {
        let mut text = String::new();
        for _ in 0..5 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.extend((0..10).map(|i| char::from(ALPHABET[(state >> (6 * i)) as usize & 63])));
        }
        xml.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{text}</t></is></c></row>"#
        ));
    }
    xml
}

/// The guard checks a worksheet while calamine reads it, a megabyte behind: a cell it refuses
/// far down the sheet (past the bytes calamine may already have read) is still refused with
/// the guard's words, and calamine never inflates it.
#[test]
fn a_huge_cell_far_down_a_long_sheet_is_refused_while_the_sheet_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = patched_xlsx(dir.path(), "far.xlsx", |xml| {
        let huge = format!(
            r#"<row r="70003"><c r="A70003" t="inlineStr"><is><t>{}</t></is></c></row>"#,
            "a".repeat(4 << 20)
        );
        let rows = noisy_rows(3, 70_000);
        xml.replace("</sheetData>", &format!("{rows}{huge}</sheetData>"))
    });
    assert!(
        std::fs::metadata(&path).unwrap().len() > 2 << 20,
        "past the read-ahead"
    );
    let error = read_error(&path);
    assert!(error.contains("xl/worksheets/sheet1.xml"), "{error}");
    assert!(error.contains("a cell or string"), "{error}");
}

/// A sheet of several megabytes on disk, read behind the guard, reads whole and in order.
#[test]
fn a_long_sheet_read_behind_the_guard_reads_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let rows = noisy_rows(3, 70_000);
    let path = patched_xlsx(dir.path(), "long.xlsx", |xml| {
        xml.replace("</sheetData>", &format!("{rows}</sheetData>"))
    });
    assert!(
        std::fs::metadata(&path).unwrap().len() > 2 << 20,
        "past the read-ahead"
    );
    let table = Workbook::open(&path)
        .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
        .unwrap();
    assert_eq!(table.len(), 70_001);
    let texts: Vec<String> = table.to_rows()[1..]
        .iter()
        .map(|r| r.cells[0].display())
        .collect();
    let want: Vec<String> = rows
        .split("<t>")
        .skip(1)
        .map(|t| t[..t.find("</t>").unwrap()].to_owned())
        .collect();
    let differ = texts.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(texts.len(), want.len());
    assert_eq!(differ, None, "{:?}", differ.map(|i| (&texts[i], &want[i])));
}

/// The shared strings table is held whole by calamine: it is bounded in total, not only per
/// string.
#[test]
fn shared_strings_are_bounded_in_total() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strings.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "name").unwrap();
    for i in 1..2_000u32 {
        sheet
            .write_string(i, 0, format!("User number {i}"))
            .unwrap();
    }
    std::fs::write(&path, book.save_to_buffer().unwrap()).unwrap();
    let limits = Limits {
        shared_strings_bytes: 16 * 1024,
        ..Limits::default()
    };
    let error = read_error_within(&path, &limits);
    assert!(error.contains("xl/sharedStrings.xml"), "{error}");
    assert!(
        error.contains("ZDIMPORT_MAX_SHARED_STRINGS_BYTES"),
        "{error}"
    );
    assert!(Workbook::open_with(&path, &Limits::default()).is_ok());
}

/// A run of rows past Excel's last row, all numbered 2 so calamine never sees a row beyond the
/// grid: before, every one was read and held.
#[test]
fn a_run_of_rows_beyond_excels_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = patched_xlsx(dir.path(), "rows.xlsx", |xml| {
        let rows = r#"<row r="2"><c r="A2"><v>1</v></c></row>"#.repeat(1_048_577);
        xml.replace("</sheetData>", &format!("{rows}</sheetData>"))
    });
    let error = read_error(&path);
    assert!(error.contains("more than 1048576 rows"), "{error}");
}

/// A hand-made ODS: one header row, then one string repeated over `columns` columns and `rows`
/// rows. 6,000 × 16,384 is 98 million cells from under a kilobyte: before, calamine spelled
/// them out (about 5.5 GB) and aborted.
fn ods(path: &Path, rows: u32, columns: u32) {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1"><table:table-row><table:table-cell office:value-type="string"><text:p>name</text:p></table:table-cell></table:table-row><table:table-row table:number-rows-repeated="{rows}"><table:table-cell table:number-columns-repeated="{columns}" office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let deflated = zip::write::SimpleFileOptions::default();
    let stored = deflated.compression_method(zip::CompressionMethod::Stored);
    out.start_file("mimetype", stored).unwrap();
    out.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    out.start_file("META-INF/manifest.xml", deflated).unwrap();
    out.write_all(manifest.as_bytes()).unwrap();
    out.start_file("content.xml", deflated).unwrap();
    out.write_all(content.as_bytes()).unwrap();
    out.finish().unwrap();
}

#[test]
fn ods_repeated_cells_are_counted_not_materialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repeats.ods");
    ods(&path, 6_000, 16_384);
    assert!(std::fs::metadata(&path).unwrap().len() < 2048);
    let error = read_error(&path);
    assert!(error.contains("content.xml"), "{error}");
    assert!(error.contains("repeated rows × columns"), "{error}");
    assert!(error.contains("ZDIMPORT_MAX_ODS_CELLS"), "{error}");
    // The same shape at a sane size reads.
    ods(&path, 100, 1);
    let table = Workbook::open(&path)
        .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
        .unwrap();
    assert_eq!(table.len(), 100);
}

/// `zdimport validate FILE --auto` in a scratch home: (exit code, stdout, stderr).
fn validate(home: &Path, file: &Path) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zdimport"))
        .args(["validate", file.to_str().unwrap(), "--auto"])
        .env("ZDIMPORT_DATA_DIR", home.join("data"))
        .env("ZDIMPORT_CONFIG_DIR", home.join("config"))
        .env("ZDIMPORT_KEYRING", "memory")
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

/// 1,000 users in UTF-8 with accented names, and one byte that is not UTF-8 in row 500: before,
/// the whole file was read as Windows-1252 ("ZoÃ« MÃ¼ller") with "999 ready" and no word.
#[test]
fn one_invalid_utf8_byte_is_a_warning_on_its_row_and_names_stay_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    let mut bytes = b"name,email\n".to_vec();
    for i in 2..=1001 {
        bytes.extend(format!("Zoë Müller {i}").as_bytes());
        if i == 500 {
            bytes.push(0xFF);
        }
        bytes.extend(format!(",zoe{i}@example.com\n").as_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let (code, stdout, stderr) = validate(dir.path(), &path);
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, Some(0), "{all}");
    assert!(all.contains("row 500"), "{all}");
    assert!(all.contains("not valid UTF-8"), "{all}");
    assert!(!all.contains("Ã"), "{all}");
    let table = Workbook::open(&path)
        .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
        .unwrap();
    assert_eq!(table.to_rows()[0].cells[0].display(), "Zoë Müller 2");
}

/// One stray quote at the start of a field in row 10 swallowed the 990 rows after it into one
/// cell, with no word.
#[test]
fn a_stray_quote_that_runs_to_the_end_of_the_file_is_reported_with_its_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    let mut text = String::from("name,email\n");
    for i in 2..=1000 {
        let quote = if i == 10 { "\"" } else { "" };
        text.push_str(&format!("{quote}User {i},user{i}@example.com\n"));
    }
    std::fs::write(&path, text).unwrap();
    let error = read_error(&path);
    assert!(error.contains("CSV record 10"), "{error}");
    assert!(error.contains("to the end of the file"), "{error}");
}

/// A 100 MB line is a record like any other: a field over the cell limit is refused.
#[test]
fn a_very_long_line_is_bounded_like_a_cell() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.csv");
    std::fs::write(&path, format!("name\n{}\n", "x".repeat(2 << 20))).unwrap();
    let error = read_error(&path);
    assert!(error.contains("CSV record 2"), "{error}");
    assert!(error.contains("ZDIMPORT_MAX_CELL_BYTES"), "{error}");
    // The whole file is bounded too, before it is read.
    let small = Limits {
        part_bytes: 1 << 20,
        ..Limits::default()
    };
    let error = read_error_within(&path, &small);
    assert!(error.contains("ZDIMPORT_MAX_PART_BYTES"), "{error}");
}

/// Opening a FIFO blocked until something wrote to it, forever in the TUI.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let error = read_error(&path);
    assert!(error.contains("not a regular file"), "{error}");
}

/// One xlsb record: its type and size in seven-bit groups (MS-XLSB 2.1.4), then `body`.
fn record(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if kind < 0x80 {
        out.push(kind as u8);
    } else {
        out.extend([(kind & 0x7f) as u8 | 0x80, (kind >> 7) as u8]);
    }
    let mut size = body.len();
    loop {
        let low = (size & 0x7f) as u8;
        size >>= 7;
        out.push(if size > 0 { low | 0x80 } else { low });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A UTF-16 string as xlsb writes one: its length in characters, then the characters.
fn wide(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = (units.len() as u32).to_le_bytes().to_vec();
    out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    out
}

/// `(row, column, text)` cells as a worksheet part: dimension, sheet data, a row header per
/// row (cells come in row order) and one inline string cell (BrtCellSt) each.
fn xlsb_sheet(dimension: [u32; 4], cells: &[(u32, u32, &str)]) -> Vec<u8> {
    let mut part = record(0x81, &[]); // BrtBeginSheet
    let dims: Vec<u8> = dimension.iter().flat_map(|n| n.to_le_bytes()).collect();
    part.extend(record(0x94, &dims)); // BrtWsDim: first row, last row, first col, last col
    part.extend(record(0x91, &[])); // BrtBeginSheetData
    let mut row = None;
    for &(r, c, text) in cells {
        if row != Some(r) {
            let mut header = r.to_le_bytes().to_vec();
            header.extend([0; 13]);
            part.extend(record(0x00, &header)); // BrtRowHdr
            row = Some(r);
        }
        let mut cell = c.to_le_bytes().to_vec();
        cell.extend([0; 4]); // style
        cell.extend(wide(text));
        part.extend(record(0x06, &cell)); // BrtCellSt
    }
    part.extend(record(0x92, &[])); // BrtEndSheetData
    part.extend(record(0x82, &[])); // BrtEndSheet
    part
}

/// A one-sheet xlsb ("Sheet1") written to `dir/name`: the few parts calamine reads.
fn xlsb(dir: &Path, name: &str, sheet: Vec<u8>) -> PathBuf {
    let mut bundle = 0u32.to_le_bytes().to_vec(); // visible
    bundle.extend(1u32.to_le_bytes()); // sheet id
    bundle.extend(wide("rId1"));
    bundle.extend(wide("Sheet1"));
    let mut workbook = record(0x83, &[]); // BrtBeginBook
    workbook.extend(record(0x8F, &[])); // BrtBeginBundleShs
    workbook.extend(record(0x9C, &bundle)); // BrtBundleSh
    workbook.extend(record(0x90, &[])); // BrtEndBundleShs
    workbook.extend(record(0x9D, &[0; 24])); // BrtCalcProp
    workbook.extend(record(0x84, &[])); // BrtEndBook
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.bin"/></Relationships>"#;
    let path = dir.join(name);
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let parts: [(&str, Vec<u8>); 3] = [
        ("xl/workbook.bin", workbook),
        ("xl/_rels/workbook.bin.rels", rels.as_bytes().to_vec()),
        ("xl/worksheets/sheet1.bin", sheet),
    ];
    for (part, bytes) in parts {
        out.start_file(part, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
    path
}

/// The generated xlsb reads as a workbook does: the table is what its cells say.
#[test]
fn a_generated_xlsb_reads_its_cells() {
    let dir = tempfile::tempdir().unwrap();
    let cells = [
        (0, 0, "name"),
        (0, 1, "email"),
        (1, 0, "Ann"),
        (1, 1, "ann@example.com"),
    ];
    let path = xlsb(dir.path(), "plain.xlsb", xlsb_sheet([0, 1, 0, 1], &cells));
    let table = Workbook::open_with(&path, &Limits::from_env())
        .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
        .unwrap();
    assert_eq!(table.len(), 1);
    assert_eq!(table.to_rows()[0].cells[1].display(), "ann@example.com");
}

/// An xlsb cell or dimension beyond Excel's grid (column 2.3 billion, `GKOBFVM`) is
/// refused naming the sheet and the cell, as in an xlsx; a row header past the grid is not a
/// quiet end of the sheet.
#[test]
fn an_xlsb_reference_beyond_excels_grid_is_refused_with_its_sheet_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let header = [(0, 0, "name"), (0, 1, "email")];
    let far_column = 2_300_000_000;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "a cell far right",
            xlsb_sheet(
                [0, 1, 0, far_column],
                &[header[0], header[1], (1, far_column, "x")],
            ),
            "GKOBFVM2",
        ),
        (
            "a cell far down",
            xlsb_sheet(
                [0, 1_048_576, 0, 1],
                &[header[0], header[1], (1_048_576, 0, "x")],
            ),
            "1048577",
        ),
        (
            "a dimension to the grid's end and past it",
            xlsb_sheet(
                [0, u32::MAX, 0, u32::MAX],
                &[header[0], header[1], (1, 0, "Ann")],
            ),
            "",
        ),
        (
            "a row header past the grid, then rows",
            xlsb_sheet(
                [0, 3, 0, 1],
                &[
                    header[0],
                    header[1],
                    (1, 0, "Ann"),
                    (0x20_0000, 0, "Bo"),
                    (0x20_0001, 0, "Cy"),
                ],
            ),
            "row 2097153",
        ),
    ];
    for (what, sheet, reference) in cases {
        let path = xlsb(dir.path(), "far.xlsb", sheet);
        let opened = Workbook::open_with(&path, &Limits::from_env());
        let result = opened.and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto));
        match (result, reference) {
            (Ok(table), "") => assert_eq!(table.len(), 1, "{what}"),
            (Ok(table), _) => panic!("{what}: read {} rows", table.len()),
            (Err(e), _) => {
                // Cells are named with their sheet as read; a row header, with its part, by
                // the check before calamine reads the sheet.
                let error = e.to_string();
                let sheet = ["sheet 'Sheet1'", "xl/worksheets/sheet1.bin"];
                assert!(sheet.iter().any(|s| error.contains(s)), "{what}: {error}");
                assert!(error.contains(reference), "{what}: {error}");
                assert!(error.contains("16,384 columns"), "{what}: {error}");
            }
        }
    }
}

/// An xlsx whose dimension says the sheet runs past Excel's grid still reads its cells: the
/// dimension is only the sheet's size, and says none then. (A backwards one, `B2:A1`, stops a
/// debug build inside calamine's `get_dimension`; a release build reads it as no size.)
#[test]
fn an_xlsx_dimension_past_the_grid_is_no_size() {
    let dir = tempfile::tempdir().unwrap();
    for dimension in ["A1:FXSHRXW4294967295", "A1:XFE1048577"] {
        let path = patched_xlsx(dir.path(), "dim.xlsx", |xml| {
            xml.replace(
                r#"<dimension ref="A1:B2"/>"#,
                &format!(r#"<dimension ref="{dimension}"/>"#),
            )
        });
        let table = Workbook::open_with(&path, &Limits::from_env())
            .and_then(|mut wb| wb.load_table(0, HeaderChoice::Auto))
            .unwrap_or_else(|e| panic!("{dimension}: {e}"));
        assert_eq!(table.len(), 1, "{dimension}");
    }
}
