//! Delimited text: encoding and delimiter detection, Excel's `sep=` line.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::limits::{Exceeded, Limits};

/// A delimited text file decoded to UTF-8, with what was detected about it.
#[derive(Debug, Clone)]
pub struct DelimitedText {
    /// The decoded text, without BOM and without a `sep=` line.
    pub text: String,
    /// The encoding the bytes were in.
    pub encoding: &'static str,
    pub delimiter: u8,
    /// Whether the first line was Excel's `sep=X` hint (then it is not row 1 of the data).
    pub sep_line: bool,
    /// What the operator should know about how the bytes were read, with where.
    pub notes: Vec<TextNote>,
}

/// Something found while decoding, and where: the row (record) it falls in and its byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextNote {
    /// The record, numbered as rows are (the `sep=` line not counted).
    pub row: u32,
    /// Offset in the file, from 0.
    pub byte: u64,
    pub message: String,
}

/// Where the encoding went wrong: the first byte that is not UTF-8, and how many there are.
struct Utf8Census {
    /// Characters of two to four bytes that decode: evidence the file is UTF-8.
    multibyte: usize,
    invalid: usize,
    first_invalid: Option<usize>,
}

fn utf8_census(bytes: &[u8]) -> Utf8Census {
    let mut census = Utf8Census {
        multibyte: 0,
        invalid: 0,
        first_invalid: None,
    };
    let (mut rest, mut offset) = (bytes, 0);
    loop {
        let (valid, error) = match std::str::from_utf8(rest) {
            Ok(s) => (s.as_bytes(), None),
            Err(e) => (&rest[..e.valid_up_to()], Some(e)),
        };
        census.multibyte += valid.iter().filter(|b| **b >= 0xC0).count();
        let Some(e) = error else {
            return census;
        };
        census.invalid += 1;
        census.first_invalid.get_or_insert(offset + e.valid_up_to());
        let skip = e.valid_up_to() + e.error_len().unwrap_or(rest.len() - e.valid_up_to());
        offset += skip;
        rest = &rest[skip..];
    }
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records sampled to choose the delimiter.
const SAMPLE_RECORDS: usize = 50;

/// Decodes the bytes and finds the delimiter; `prefer_tab` for `.tsv` files.
pub fn decode(bytes: &[u8], prefer_tab: bool) -> DelimitedText {
    let (text, encoding, found) = decode_text(bytes);
    let (text, hinted) = strip_sep_line(text);
    let delimiter = hinted.unwrap_or_else(|| sniff_delimiter(&text, prefer_tab));
    let mut decoded = DelimitedText {
        text,
        encoding,
        delimiter,
        sep_line: hinted.is_some(),
        notes: Vec::new(),
    };
    decoded.notes = found
        .into_iter()
        .map(|(byte, message)| TextNote {
            row: decoded.row_at_line(line_of(bytes, byte)),
            byte: byte as u64,
            message,
        })
        .collect();
    decoded
}

/// A record that is not what its bytes meant: a field over the cell limit, or a quote that
/// swallows line breaks across many rows or runs to the end of the file.
///
/// Returns the row (record number) and what is wrong. Without this, one stray `"` silently
/// turned 990 of 1,000 rows into one cell.
pub fn check_records(text: &DelimitedText, limits: &Limits) -> Result<(), (u64, String)> {
    let mut reader = super::reader::csv_reader(text);
    let mut record = csv::ByteRecord::new();
    let mut row = 0u64;
    loop {
        let start = reader.position().clone();
        match reader.read_byte_record(&mut record) {
            Ok(true) => row += 1,
            _ => return Ok(()),
        }
        let end = reader.position();
        let at = |what: String| (row, format!("{what} (line {})", start.line()));
        if record.iter().any(|f| f.len() as u64 > limits.cell_bytes) {
            return Err(at(Exceeded::CellBytes.message(limits, "a field")));
        }
        let breaks = end.line().saturating_sub(start.line() + 1);
        if breaks == 0 {
            continue;
        }
        let rest = &text.text.as_bytes()[usize::try_from(start.byte()).unwrap_or(0)..];
        let unclosed = end.byte() as usize >= text.text.len()
            && rest.iter().filter(|b| **b == b'"').count() % 2 == 1;
        if unclosed {
            return Err(at(format!(
                "a quote opens a field that runs across {breaks} line breaks to the end of the \
                 file without closing; a stray `\"` in this row?"
            )));
        }
        if breaks > limits.field_lines {
            let what = format!("a quoted field across {breaks} line breaks (a stray `\"`?)");
            return Err(at(Exceeded::FieldLines.message(limits, &what)));
        }
    }
}

/// The 1-based line of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

impl DelimitedText {
    /// The record (row number) that holds file line `line`.
    fn row_at_line(&self, line: u64) -> u32 {
        let line = if self.sep_line {
            line.saturating_sub(1)
        } else {
            line
        };
        let mut reader = super::reader::csv_reader(self);
        let mut record = csv::ByteRecord::new();
        let mut row = 0;
        while reader.position().line() <= line {
            match reader.read_byte_record(&mut record) {
                Ok(true) => row += 1,
                _ => break,
            }
        }
        row.max(1)
    }
}

/// BOM first, then UTF-16 without BOM by its zero bytes, then UTF-8, else Windows-1252; with what
/// the operator should know (byte offset and message) when no encoding reads every byte.
///
/// Windows-1252 is a superset of Latin-1 for printable text, so it is the right guess for
/// the single-byte exports Excel writes on Western systems. A file that is UTF-8 but for a few
/// broken bytes stays UTF-8: read as Windows-1252 every accented name would turn to mojibake.
fn decode_text(bytes: &[u8]) -> (String, &'static str, Vec<(usize, String)>) {
    match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) if encoding == UTF_8 => eight_bit(bytes, bom_len),
        Some((encoding, bom_len)) => (
            decode_with(encoding, &bytes[bom_len..]),
            encoding.name(),
            Vec::new(),
        ),
        None => match utf16_without_bom(bytes) {
            Some(encoding) => (decode_with(encoding, bytes), encoding.name(), Vec::new()),
            None => eight_bit(bytes, 0),
        },
    }
}

/// UTF-8 or Windows-1252 for the bytes after a BOM of `bom_len` bytes (0 or 3).
fn eight_bit(bytes: &[u8], bom_len: usize) -> (String, &'static str, Vec<(usize, String)>) {
    let body = &bytes[bom_len..];
    if let Ok(s) = std::str::from_utf8(body) {
        return (s.to_owned(), UTF_8.name(), Vec::new());
    }
    let census = utf8_census(body);
    let at = bom_len + census.first_invalid.unwrap_or(0);
    if census.multibyte > census.invalid {
        let message = format!(
            "{} byte(s) are not valid UTF-8, the first at byte {at}; the rest of the file is \
             UTF-8, so it was read as UTF-8 and each such byte shows as U+FFFD: check \
             this row",
            census.invalid
        );
        let text = UTF_8.decode_without_bom_handling(body).0.into_owned();
        return (text, UTF_8.name(), vec![(at, message)]);
    }
    let mut notes = Vec::new();
    if bom_len > 0 {
        notes.push((
            at,
            format!(
                "the file starts with a UTF-8 byte order mark, but byte {at} and {} more are \
                 not UTF-8; it was read as Windows-1252",
                census.invalid - 1
            ),
        ));
    }
    (decode_with(WINDOWS_1252, body), WINDOWS_1252.name(), notes)
}

fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> String {
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

/// Text in UTF-16 has a zero byte in every other position for ASCII characters.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(512) & !1];
    if sample.len() < 4 {
        return None;
    }
    let zeros_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let half = sample.len() / 2;
    if zeros_at(1) * 10 >= half * 8 && zeros_at(0) == 0 {
        Some(UTF_16LE)
    } else if zeros_at(0) * 10 >= half * 8 && zeros_at(1) == 0 {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// Excel writes `sep=;` as the first line to name the delimiter; it is not data.
fn strip_sep_line(text: String) -> (String, Option<u8>) {
    let first_line = text.lines().next().unwrap_or("");
    let hint = first_line
        .trim_end()
        .strip_prefix("sep=")
        .filter(|rest| rest.len() == 1 && rest.is_ascii())
        .map(|rest| rest.as_bytes()[0]);
    match hint {
        Some(delimiter) => {
            let rest_start = text.find('\n').map_or(text.len(), |i| i + 1);
            (text[rest_start..].to_owned(), Some(delimiter))
        }
        None => (text, None),
    }
}

/// The candidate that splits the sampled records most consistently into the most fields.
fn sniff_delimiter(text: &str, prefer_tab: bool) -> u8 {
    let default = if prefer_tab { b'\t' } else { b',' };
    CANDIDATES
        .iter()
        .map(|&d| (score(text, d), d))
        .filter(|&(s, _)| s > 0)
        .max_by_key(|&(s, d)| (s, d == default))
        .map_or(default, |(_, d)| d)
}

/// Records agreeing on the most common field count, times that count (0 if it is 1).
fn score(text: &str, delimiter: u8) -> usize {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut counts = std::collections::HashMap::<usize, usize>::new();
    let mut record = csv::ByteRecord::new();
    for _ in 0..SAMPLE_RECORDS {
        match reader.read_byte_record(&mut record) {
            Ok(true) if record.iter().any(|f| !f.is_empty()) => {
                *counts.entry(record.len()).or_default() += 1;
            }
            Ok(true) => {}
            _ => break,
        }
    }
    counts
        .into_iter()
        .filter(|&(fields, _)| fields > 1)
        .map(|(fields, agree)| agree * 4 + fields.min(64))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(b"a,b\n1,2\n", b',')]
    #[case(b"a;b;c\n1;\"x;y\";3\n", b';')]
    #[case(b"a\tb\n1\t2\n", b'\t')]
    #[case(b"a|b|c\n1|2|3\n", b'|')]
    #[case(b"name,price\n\"Smith; Jo\",\"1,5\"\nDoe,2\n", b',')]
    #[case(b"sep=;\r\nA;1\r\n2;3", b';')]
    #[case(b"single\ncolumn\n", b',')]
    fn finds_the_delimiter(#[case] bytes: &[u8], #[case] want: u8) {
        assert_eq!(decode(bytes, false).delimiter, want);
    }

    #[test]
    fn sep_line_is_not_data() {
        let d = decode(b"sep=;\r\nA;1\r\n2;3", false);
        assert!(d.sep_line);
        assert_eq!(d.text, "A;1\r\n2;3");
    }

    #[rstest]
    #[case(b"\xEF\xBB\xBFname\n".to_vec(), "UTF-8", "name\n")]
    #[case(b"\xFF\xFEn\0a\0\n\0".to_vec(), "UTF-16LE", "na\n")]
    #[case(b"\xFE\xFF\0n\0a\0\n".to_vec(), "UTF-16BE", "na\n")]
    #[case(b"n\0a\0m\0e\0\n\0".to_vec(), "UTF-16LE", "name\n")]
    #[case(b"Descripci\xF3n\n".to_vec(), "windows-1252", "Descripción\n")]
    #[case("Zoë\n".as_bytes().to_vec(), "UTF-8", "Zoë\n")]
    fn detects_the_encoding(#[case] bytes: Vec<u8>, #[case] encoding: &str, #[case] text: &str) {
        let d = decode(&bytes, false);
        assert_eq!((d.encoding, d.text.as_str()), (encoding, text));
        assert_eq!(d.notes, []);
    }

    /// One bad byte in a UTF-8 file used to make the whole file Windows-1252: "ZoÃ« MÃ¼ller".
    #[test]
    fn one_invalid_byte_keeps_utf8_and_says_where() {
        let mut bytes = b"name\n".to_vec();
        for _ in 0..20 {
            bytes.extend("Zoë Müller\n".as_bytes());
        }
        let bad = bytes.len() + 3;
        bytes.extend(b"Ann\xFF\n");
        let d = decode(&bytes, false);
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains("Zoë Müller"));
        assert!(d.text.contains("Ann\u{FFFD}"));
        assert_eq!(d.notes.len(), 1);
        assert_eq!((d.notes[0].row, d.notes[0].byte), (22, bad as u64));
    }

    #[rstest]
    #[case(b"a\n\"b c\nd\ne\n", "to the end of the file")]
    #[case(b"a\n\"b\n1\n2\n3\n4\"\nc\n", "ZDIMPORT_MAX_FIELD_LINES")]
    #[case(b"a\nbbbbbbbbbbb\n", "ZDIMPORT_MAX_CELL_BYTES")]
    fn stray_quotes_and_long_fields_are_reported(#[case] bytes: &[u8], #[case] want: &str) {
        let limits = Limits {
            cell_bytes: 10,
            field_lines: 3,
            ..Limits::default()
        };
        let (row, message) = check_records(&decode(bytes, false), &limits).unwrap_err();
        assert_eq!(row, 2, "{message}");
        assert!(message.contains(want), "{message}");
        let fine = b"a\n\"b\n1\n2\"\nc\n";
        assert_eq!(check_records(&decode(fine, false), &limits), Ok(()));
    }

    /// A UTF-8 BOM over Windows-1252 text used to give `\u{FFFD}` for every accent.
    #[test]
    fn a_utf8_bom_over_windows_1252_is_read_as_windows_1252() {
        let d = decode(b"\xEF\xBB\xBFsep=;\nname\nJos\xE9\nRen\xE9e\n", false);
        assert_eq!(d.encoding, "windows-1252");
        assert_eq!(d.text, "name\nJosé\nRenée\n");
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
        assert_eq!((d.notes[0].row, d.notes[0].byte), (2, 17));
        assert!(d.notes[0].message.contains("byte order mark"));
    }
}
