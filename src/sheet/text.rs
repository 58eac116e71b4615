//! Delimited text: encoding and delimiter detection, Excel's `sep=` line.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

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
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records sampled to choose the delimiter.
const SAMPLE_RECORDS: usize = 50;

/// Decodes the bytes and finds the delimiter; `prefer_tab` for `.tsv` files.
pub fn decode(bytes: &[u8], prefer_tab: bool) -> DelimitedText {
    let (text, encoding) = decode_text(bytes);
    let (text, hinted) = strip_sep_line(text);
    let delimiter = hinted.unwrap_or_else(|| sniff_delimiter(&text, prefer_tab));
    DelimitedText {
        text,
        encoding,
        delimiter,
        sep_line: hinted.is_some(),
    }
}

/// BOM first, then UTF-16 without BOM by its zero bytes, then UTF-8, else Windows-1252.
///
/// Windows-1252 is a superset of Latin-1 for printable text, so it is the right guess for
/// the single-byte exports Excel writes on Western systems.
fn decode_text(bytes: &[u8]) -> (String, &'static str) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        return (decode_with(encoding, &bytes[bom_len..]), encoding.name());
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        return (decode_with(encoding, bytes), encoding.name());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), UTF_8.name()),
        Err(_) => (decode_with(WINDOWS_1252, bytes), WINDOWS_1252.name()),
    }
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
    }
}
