//! Every real-world worksheet in `tests/fixtures/worksheets` loads (or fails clearly), and
//! what SOURCES.md says about them holds.

use std::path::{Path, PathBuf};

use zdimport::sheet::{Cell, HeaderChoice, SheetKind, Table, Visibility, Workbook};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/worksheets")
        .join(name)
}

fn table(name: &str) -> Table {
    let mut wb = Workbook::open(fixture(name)).unwrap();
    let sheet = wb.default_sheet();
    wb.load_table(sheet, HeaderChoice::Auto).unwrap()
}

fn column(t: &Table, header: &str) -> Vec<String> {
    let i = t.layout.headers.iter().position(|h| h == header).unwrap();
    t.rows().map(|r| r.cell(i).display()).collect()
}

#[test]
fn every_fixture_loads_every_worksheet() {
    let dir = fixture("");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let mut wb = Workbook::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for i in 0..wb.sheets().len() {
            let info = wb.sheets()[i].clone();
            let result = wb.load_table(i, HeaderChoice::Auto);
            match (info.kind, result) {
                (SheetKind::Worksheet, Ok(t)) => {
                    assert!(!t.layout.headers.is_empty(), "{}", path.display())
                }
                // Empty sheets and chart sheets fail with a message naming file and sheet.
                (_, Err(e)) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(&info.name)
                            && msg.contains(&*path.file_name().unwrap().to_string_lossy()),
                        "{msg}"
                    );
                }
                (kind, Ok(_)) => panic!("{}: a {kind:?} sheet gave a table", path.display()),
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 30, "every fixture file was tried");
}

#[test]
fn header_rows_below_titles_and_notes() {
    for (name, row, first_header) in [
        ("header_on_row9_note_above.xlsx", 9, "Columns"),
        (
            "attendance_numbers_export_header_row2_booleans.xlsx",
            2,
            "Date",
        ),
        (
            "cjk_attendance_report_header_row4_backslash_zip_paths.xlsx",
            4,
            "领域",
        ),
        ("nhs_definitions_header_row47_merged.xlsm", 47, "Data item"),
        ("title_rows_before_header_thousands_sep.csv", 4, "Year"),
        ("twitter_users_18digit_text_ids.xlsx", 1, "id_str"),
    ] {
        let t = table(name);
        assert_eq!(
            (t.layout.header_row, t.layout.headers[0].as_str()),
            (row, first_header),
            "{name}"
        );
    }
}

#[test]
fn header_names_are_cleaned_and_placed() {
    let t = table("attendance_numbers_export_header_row2_booleans.xlsx");
    assert_eq!(
        t.layout.headers[1], "Ben Ashley",
        "newline inside a header collapses"
    );
    assert_eq!(
        t.to_rows()[0].number,
        3,
        "data keeps spreadsheet row numbers"
    );
    assert_eq!(t.to_rows()[0].cells[1], Cell::Bool(false));
    let cjk = table("cjk_attendance_report_header_row4_backslash_zip_paths.xlsx");
    assert_eq!(cjk.layout.first_column, 2, "table starts in column C");
    assert_eq!(column(&cjk, "总人数"), ["9"]);
}

#[test]
fn long_text_ids_keep_every_digit() {
    let t = table("twitter_users_18digit_text_ids.xlsx");
    assert_eq!(t.len(), 15);
    assert_eq!(column(&t, "id_str")[0], "474939423470395392");
    assert_eq!(column(&t, "in_reply_to_status_id")[0], "474917338639507456");
}

#[test]
fn leading_zeros_in_text_survive() {
    assert_eq!(column(&table("leading_zero_numbers.csv"), "a"), ["01"]);
    assert_eq!(column(&table("leading_zero_numbers.csv"), "b"), ["00.11"]);
    assert_eq!(
        column(&table("comma_in_quotes_names_addresses.csv"), "zip"),
        ["08123"]
    );
    assert_eq!(
        column(&table("comma_in_quotes_names_addresses.csv"), "city"),
        ["Anytown, WW"]
    );
}

#[test]
fn dates_in_both_date_systems() {
    let mut wb = Workbook::open(fixture("dates_1904_system_text_formulas.xlsx")).unwrap();
    let rows = wb.preview(0, 10).unwrap();
    let b: Vec<String> = rows.iter().map(|r| r.cells[1].display()).collect();
    let c: Vec<String> = rows.iter().map(|r| r.cells[2].display()).collect();
    assert_eq!(
        b,
        [
            "1904-01-02",
            "1904-01-12",
            "1904-04-21",
            "1907-01-16",
            "1934-06-03"
        ]
    );
    assert_eq!(b, c, "the dates agree with Excel's own TEXT() results");

    let mut wb = Workbook::open(fixture("dates_1900_with_duration.xlsx")).unwrap();
    let rows = wb.preview(0, 10).unwrap();
    let a: Vec<Cell> = rows.iter().map(|r| r.cells[0].clone()).collect();
    assert_eq!(a[0].display(), "2021-01-01");
    assert_eq!(a[1].display(), "2021-01-02");
    assert!(
        matches!(a[2], Cell::Duration(_)),
        "[hh]:mm:ss is a duration, not a date: {:?}",
        a[2]
    );
    assert_eq!(rows[0].cells[1], Cell::Float(15.0));
    assert_eq!(rows[0].cells[1].display(), "15");
}

#[test]
fn error_cells_are_errors() {
    let mut wb = Workbook::open(fixture("error_cells_all_seven.xlsx")).unwrap();
    let rows = wb.preview(0, 10).unwrap();
    let errors: Vec<String> = rows.iter().map(|r| r.cells[0].display()).collect();
    assert_eq!(
        errors,
        [
            "#DIV/0!", "#NAME?", "#VALUE!", "#NULL!", "#REF!", "#NUM!", "#N/A"
        ]
    );
    assert!(rows.iter().all(|r| matches!(r.cells[0], Cell::Error(_))));
}

#[test]
fn sheet_visibility_and_kinds() {
    let wb = Workbook::open(fixture("hidden_veryhidden_and_chart_sheets.xlsx")).unwrap();
    let seen: Vec<(&str, Visibility, SheetKind)> = wb
        .sheets()
        .iter()
        .map(|s| (s.name.as_str(), s.visibility, s.kind))
        .collect();
    assert_eq!(
        seen,
        [
            ("Visible", Visibility::Visible, SheetKind::Worksheet),
            ("Hidden", Visibility::Hidden, SheetKind::Worksheet),
            ("VeryHidden", Visibility::VeryHidden, SheetKind::Worksheet),
            ("Chart", Visibility::Visible, SheetKind::Chart),
        ]
    );
}

#[test]
fn awkward_sheet_names_are_found() {
    let wb = Workbook::open(fixture("sheet_names_emoji_rtl_symbols.xlsb")).unwrap();
    assert_eq!(wb.sheets().len(), 12);
    assert_eq!(wb.find_sheet("🍣").unwrap(), 7);
    assert_eq!(wb.find_sheet("a b").unwrap(), 11);
    assert_eq!(
        wb.find_sheet("2").unwrap(),
        1,
        "a number is a 1-based position"
    );
    let err = wb.find_sheet("nope").unwrap_err().to_string();
    assert!(
        err.contains("no sheet named 'nope'") && err.contains("'a%b'"),
        "{err}"
    );
    let wb = Workbook::open(fixture("rtl_hebrew_sheets_merged_formulas.xlsx")).unwrap();
    assert_eq!(
        wb.find_sheet("מס הכנסה").unwrap(),
        1,
        "outer spaces of a sheet name are forgiven"
    );
}

#[test]
fn csv_encodings_and_delimiters() {
    for (name, encoding, delimiter) in [
        ("utf16le_bom_comma_nhs_stats.csv", "UTF-16LE", b','),
        (
            "utf16le_tab_hebrew_excel_unicode_text.tsv",
            "UTF-16LE",
            b'\t',
        ),
        ("latin1_spanish_budget_long_text.csv", "windows-1252", b','),
        (
            "semicolon_decimal_comma_8bit_nbsp.csv",
            "windows-1252",
            b';',
        ),
        (
            "semicolon_quoted_semicolons_trailing_empty_cols.csv",
            "UTF-8",
            b';',
        ),
        ("excel_sep_hint_semicolon.csv", "UTF-8", b';'),
        ("utf8_bom_quoted_crlf_and_lf.csv", "UTF-8", b','),
    ] {
        let wb = Workbook::open(fixture(name)).unwrap();
        let d = wb.delimited().unwrap();
        assert_eq!((d.encoding, d.delimiter), (encoding, delimiter), "{name}");
    }
    let t = table("latin1_spanish_budget_long_text.csv");
    assert_eq!(t.layout.headers[7], "Descripción");
    // 117 records: the header, 114 budget lines, a blank record and the 'Fuente' note.
    assert_eq!(t.len(), 115, "quoted newlines stay inside their cells");
    let last = t.to_rows().last().cloned().unwrap();
    assert_eq!(last.number, 117);
    assert!(last.cells[0].display().starts_with("Fuente: Presupuesto"));
    let t = table("utf16le_tab_hebrew_excel_unicode_text.tsv");
    assert_eq!(column(&t, "Hello"), ["שלום", "13.37"]);
    assert_eq!(
        t.to_rows()[1].number,
        4,
        "blank rows are skipped, row numbers kept"
    );
    let t = table("excel_sep_hint_semicolon.csv");
    assert_eq!(
        (t.layout.headers.clone(), t.to_rows()[0].cells[1].display()),
        (vec!["A".into(), "1".into()], "3".into())
    );
    let t = table("semicolon_quoted_semicolons_trailing_empty_cols.csv");
    assert_eq!(
        t.layout.headers.len(),
        8,
        "trailing empty header cells are not columns"
    );
    assert_eq!(column(&t, "title_fr"), ["Miramar; cuir blanc"]);
}

#[test]
fn quoted_line_breaks_stay_in_their_cell() {
    let mut wb = Workbook::open(fixture("utf8_bom_quoted_crlf_and_lf.csv")).unwrap();
    let rows = wb.preview(0, 10).unwrap();
    assert_eq!(
        rows[0].cells,
        [Cell::Text("Normal".into()), Cell::Text("abc\ndef".into())]
    );
    assert_eq!(rows[1].cells[1], Cell::Text("abc\r\ndef".into()));
    assert_eq!(
        rows[2].cells,
        [Cell::Text("Test".into()), Cell::Empty],
        "trailing empty field kept"
    );
}

#[test]
fn typed_ods_cells_use_values_not_display_text() {
    let t = table("typed_cells_date_time_bool_currency.ods");
    let row = &t.to_rows()[0].cells;
    assert_eq!(row[0].display(), "2014-11-11");
    assert_eq!(row[1].display(), "11:12:12");
    assert_eq!(row[2], Cell::Bool(true));
    assert_eq!(row[3], Cell::Float(11.11));
    assert_eq!(row[7].display(), "100000");
}

#[test]
fn nbsp_padding_is_kept_for_cleaning() {
    let t = table("cjk_name_nbsp_padding.xlsx");
    assert_eq!(
        t.to_rows()[0].cells[0],
        Cell::Text("\u{a0}\u{a0}凯 \u{a0}\u{a0}".into())
    );
}

#[test]
fn header_row_override() {
    let mut wb = Workbook::open(fixture("title_rows_before_header_thousands_sep.csv")).unwrap();
    let t = wb.load_table(0, HeaderChoice::Row(5)).unwrap();
    assert_eq!(t.layout.headers[0], "Timber");
    let err = wb
        .load_table(0, HeaderChoice::Row(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("header row 3 is blank"), "{err}");
    let err = wb
        .load_table(0, HeaderChoice::Row(500))
        .unwrap_err()
        .to_string();
    assert!(err.contains("header row 500 is outside the sheet"), "{err}");
}

#[test]
fn unreadable_files_say_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("users.xlsx");
    std::fs::write(&fake, b"this is not a zip").unwrap();
    let err = Workbook::open(&fake).unwrap_err().to_string();
    assert!(
        err.starts_with(&fake.display().to_string()) && err.contains("not a readable workbook"),
        "{err}"
    );
    let err = Workbook::open(dir.path().join("users.pdf"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported file type"), "{err}");
    let err = Workbook::open(dir.path().join("missing.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing.csv") && err.contains("cannot read"),
        "{err}"
    );
}
