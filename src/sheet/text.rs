//! Delimited text: encoding and delimiter detection, Excel's `sep=` line, and the stream of
//! decoded text the rows are parsed from.
//!
//! Nothing here holds the file: detection reads the first bytes, checks the rest is UTF-8 in
//! one pass of fixed-size chunks, and every read of the rows decodes the file again as it goes
//! ([`Decoded`]), so a 100 MB export costs a few buffers, not two copies of itself.

use std::io::{self, Read};
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::limits::Limits;

/// Bytes read from the file at a time, raw and decoded.
const CHUNK: usize = 64 * 1024;

/// A delimited text file and what was detected about it; its rows are decoded as they are read.
#[derive(Debug, Clone)]
pub struct DelimitedText {
    /// The encoding the bytes are in.
    pub encoding: &'static str,
    pub delimiter: u8,
    /// Whether the first line was Excel's `sep=X` hint (then it is not row 1 of the data).
    pub sep_line: bool,
    /// What the operator should know about how the bytes were read, with where.
    pub notes: Vec<TextNote>,
    pub(super) stream: Stream,
    /// What a record may hold (field bytes, line breaks in a quoted field).
    pub(super) limits: Limits,
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

/// Where the bytes come from: the file, opened again for each read, or bytes in memory.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    File(PathBuf),
    #[cfg(test)]
    Bytes(Arc<[u8]>),
}

impl Origin {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Origin::File(path) => Box::new(std::fs::File::open(path)?),
            #[cfg(test)]
            Origin::Bytes(bytes) => Box::new(io::Cursor::new(Arc::clone(bytes))),
        })
    }
}

/// How to turn the file's bytes into the text the rows are parsed from.
#[derive(Debug, Clone)]
pub(super) struct Stream {
    origin: Origin,
    /// `None`: the bytes are UTF-8 already and pass through untouched.
    decode: Option<&'static Encoding>,
    /// Bytes of the byte order mark, skipped.
    bom_len: u64,
    /// Decoded bytes of the `sep=` line, skipped.
    skip: u64,
    /// The file's size, for progress.
    pub(super) len: u64,
}

impl Stream {
    /// The decoded text from its first row on; `progress` counts the file's bytes read.
    pub(super) fn open(&self, progress: Arc<AtomicU64>) -> io::Result<Decoded> {
        let mut raw = self.origin.open()?;
        let mut bom = [0u8; 3];
        let bom_len = usize::try_from(self.bom_len).unwrap_or(0).min(3);
        raw.read_exact(&mut bom[..bom_len])?;
        progress.fetch_add(self.bom_len, Ordering::Relaxed);
        let mut decoded = Decoded {
            raw,
            decoder: self.decode.map(Encoding::new_decoder_without_bom_handling),
            input: Vec::new(),
            input_at: 0,
            output: Vec::new(),
            output_at: 0,
            raw_done: false,
            finished: false,
            progress,
            handed: 0,
            eof: false,
        };
        io::copy(&mut (&mut decoded).take(self.skip), &mut io::sink())?;
        decoded.handed = 0;
        Ok(decoded)
    }
}

/// The file's text as UTF-8, decoded a chunk at a time (or passed through when it is UTF-8).
pub(super) struct Decoded {
    raw: Box<dyn Read + Send>,
    /// `None`: UTF-8 passed through.
    decoder: Option<Decoder>,
    input: Vec<u8>,
    input_at: usize,
    output: Vec<u8>,
    output_at: usize,
    raw_done: bool,
    /// The decoder has flushed its last bytes.
    finished: bool,
    progress: Arc<AtomicU64>,
    /// Decoded bytes handed out.
    pub(super) handed: u64,
    /// Whether the end of the text has been handed out.
    pub(super) eof: bool,
}

fn read_counted(raw: &mut dyn Read, progress: &AtomicU64, buf: &mut [u8]) -> io::Result<usize> {
    let n = raw.read(buf)?;
    progress.fetch_add(n as u64, Ordering::Relaxed);
    Ok(n)
}

impl Decoded {
    /// Decodes the next chunk into `output`; false at the end of the text.
    fn fill(&mut self, decoder: &mut Decoder) -> io::Result<bool> {
        self.output.resize(CHUNK + 16, 0);
        self.output_at = 0;
        loop {
            if self.finished {
                self.output.clear();
                return Ok(false);
            }
            if self.input_at == self.input.len() && !self.raw_done {
                self.input.resize(CHUNK, 0);
                let n = read_counted(&mut *self.raw, &self.progress, &mut self.input)?;
                self.input.truncate(n);
                self.input_at = 0;
                self.raw_done = n == 0;
            }
            let last = self.raw_done;
            let (result, read, written, _) =
                decoder.decode_to_utf8(&self.input[self.input_at..], &mut self.output, last);
            self.input_at += read;
            // A decoder told the input ended must not be used again.
            self.finished = last && result == CoderResult::InputEmpty;
            if written > 0 {
                self.output.truncate(written);
                return Ok(true);
            }
        }
    }
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.decoder.take() {
            None => read_counted(&mut *self.raw, &self.progress, buf)?,
            Some(mut decoder) => {
                let more = if self.output_at < self.output.len() {
                    Ok(true)
                } else {
                    self.fill(&mut decoder)
                };
                self.decoder = Some(decoder);
                if !more? {
                    0
                } else {
                    let n = buf.len().min(self.output.len() - self.output_at);
                    buf[..n].copy_from_slice(&self.output[self.output_at..self.output_at + n]);
                    self.output_at += n;
                    n
                }
            }
        };
        self.eof |= n == 0 && !buf.is_empty();
        self.handed += n as u64;
        Ok(n)
    }
}

/// Where the encoding went wrong: the first byte that is not UTF-8, and how many there are.
struct Utf8Census {
    /// Characters of two to four bytes that decode: evidence the file is UTF-8.
    multibyte: usize,
    invalid: usize,
    first_invalid: Option<u64>,
}

/// Reads `bytes` through in chunks, counting what is not UTF-8; with `count_all` false it
/// stops at the first invalid byte and counts nothing else (the common, all-UTF-8 case).
fn utf8_census(mut bytes: impl Read, count_all: bool) -> io::Result<Utf8Census> {
    let mut census = Utf8Census {
        multibyte: 0,
        invalid: 0,
        first_invalid: None,
    };
    let mut buf = vec![0u8; CHUNK + 4];
    // Bytes of a character cut by the chunk's end, moved to the front for the next chunk.
    let mut carried = 0;
    // File offset of buf[0].
    let mut offset = 0u64;
    loop {
        let n = bytes.read(&mut buf[carried..])?;
        let end = carried + n;
        let last = n == 0;
        let mut at = 0;
        while at < end {
            let rest = &buf[at..end];
            let (valid, error) = match std::str::from_utf8(rest) {
                Ok(s) => (s.len(), None),
                Err(e) => (e.valid_up_to(), Some(e)),
            };
            if count_all {
                census.multibyte += rest[..valid].iter().filter(|b| **b >= 0xC0).count();
            }
            let Some(e) = error else {
                at = end;
                break;
            };
            let skip = match e.error_len() {
                Some(len) => len,
                // A character cut by the chunk's end: finish it with the next chunk.
                None if !last => {
                    at += valid;
                    break;
                }
                None => rest.len() - valid,
            };
            census.invalid += 1;
            census
                .first_invalid
                .get_or_insert(offset + (at + valid) as u64);
            if !count_all {
                return Ok(census);
            }
            at += valid + skip;
        }
        if last {
            return Ok(census);
        }
        buf.copy_within(at..end, 0);
        carried = end - at;
        offset += at as u64;
    }
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Records sampled to choose the delimiter.
const SAMPLE_RECORDS: usize = 50;
/// Bytes read from the start of the file to find a byte order mark or UTF-16.
const HEAD: usize = 512;

/// Detects the encoding, the `sep=` line and the delimiter of a file; `prefer_tab` for `.tsv`.
pub(super) fn detect(
    origin: Origin,
    prefer_tab: bool,
    limits: &Limits,
) -> io::Result<DelimitedText> {
    let len = match &origin {
        Origin::File(path) => std::fs::metadata(path)?.len(),
        #[cfg(test)]
        Origin::Bytes(bytes) => bytes.len() as u64,
    };
    let mut head = Vec::with_capacity(HEAD);
    origin.open()?.take(HEAD as u64).read_to_end(&mut head)?;
    let (encoding, bom_len, found) = choose_encoding(&origin, &head)?;
    let mut stream = Stream {
        origin,
        decode: (encoding != UTF_8 || !found.is_empty()).then_some(encoding),
        bom_len: bom_len as u64,
        skip: 0,
        len,
    };
    let hinted = sep_line(&stream)?;
    if let Some((_, line_len)) = hinted {
        stream.skip = line_len;
    }
    let delimiter = match hinted {
        Some((delimiter, _)) => delimiter,
        None => sniff_delimiter(&stream, prefer_tab)?,
    };
    let mut text = DelimitedText {
        encoding: encoding.name(),
        delimiter,
        sep_line: hinted.is_some(),
        notes: Vec::new(),
        stream,
        limits: *limits,
    };
    for (byte, message) in found {
        let row = text.row_at_line(line_of(&text.stream.origin, byte)?)?;
        text.notes.push(TextNote { row, byte, message });
    }
    Ok(text)
}

/// A csv reader that keeps ragged rows, over `input`.
pub(super) fn csv_builder(delimiter: u8) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(CHUNK);
    builder
}

/// The 1-based line of byte `offset` of the file.
fn line_of(origin: &Origin, offset: u64) -> io::Result<u64> {
    let mut lines = 1;
    let mut raw = origin.open()?.take(offset);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = raw.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

impl DelimitedText {
    /// The decoded text from its first row on, counting the file's bytes read in `progress`.
    pub(super) fn open(&self, progress: Arc<AtomicU64>) -> io::Result<Decoded> {
        self.stream.open(progress)
    }

    /// The record (row number) that holds file line `line`.
    fn row_at_line(&self, line: u64) -> io::Result<u32> {
        let line = if self.sep_line {
            line.saturating_sub(1)
        } else {
            line
        };
        let mut reader = csv_builder(self.delimiter).from_reader(self.open(Arc::default())?);
        let mut record = csv::ByteRecord::new();
        let mut row = 0;
        while reader.position().line() <= line {
            match reader.read_byte_record(&mut record) {
                Ok(true) => row += 1,
                _ => break,
            }
        }
        Ok(row.max(1))
    }

    /// Whether the text from decoded byte `from` to the end holds an odd number of quotes: a
    /// quote opened there never closes.
    pub(super) fn odd_quotes_from(&self, from: u64) -> io::Result<bool> {
        let mut text = self.open(Arc::default())?;
        io::copy(&mut (&mut text).take(from), &mut io::sink())?;
        let mut buf = vec![0u8; CHUNK];
        let mut quotes = 0usize;
        loop {
            let n = text.read(&mut buf)?;
            if n == 0 {
                return Ok(quotes % 2 == 1);
            }
            quotes += buf[..n].iter().filter(|b| **b == b'"').count();
        }
    }
}

/// BOM first, then UTF-16 without BOM by its zero bytes, then UTF-8, else Windows-1252; with what
/// the operator should know (byte offset and message) when no encoding reads every byte.
///
/// Windows-1252 is a superset of Latin-1 for printable text, so it is the right guess for
/// the single-byte exports Excel writes on Western systems. A file that is UTF-8 but for a few
/// broken bytes stays UTF-8: read as Windows-1252 every accented name would turn to mojibake.
/// Returns the encoding, the length of its byte order mark and the notes.
#[expect(clippy::type_complexity, reason = "one private result")]
fn choose_encoding(
    origin: &Origin,
    head: &[u8],
) -> io::Result<(&'static Encoding, usize, Vec<(u64, String)>)> {
    match Encoding::for_bom(head) {
        Some((encoding, bom_len)) if encoding == UTF_8 => eight_bit(origin, bom_len),
        Some((encoding, bom_len)) => Ok((encoding, bom_len, Vec::new())),
        None => match utf16_without_bom(head) {
            Some(encoding) => Ok((encoding, 0, Vec::new())),
            None => eight_bit(origin, 0),
        },
    }
}

/// UTF-8 or Windows-1252 for the bytes after a BOM of `bom_len` bytes (0 or 3).
#[expect(clippy::type_complexity, reason = "one private result")]
fn eight_bit(
    origin: &Origin,
    bom_len: usize,
) -> io::Result<(&'static Encoding, usize, Vec<(u64, String)>)> {
    let body = || -> io::Result<_> {
        let mut raw = origin.open()?;
        io::copy(&mut (&mut raw).take(bom_len as u64), &mut io::sink())?;
        Ok(raw)
    };
    if utf8_census(body()?, false)?.invalid == 0 {
        return Ok((UTF_8, bom_len, Vec::new()));
    }
    let census = utf8_census(body()?, true)?;
    let at = bom_len as u64 + census.first_invalid.unwrap_or(0);
    if census.multibyte > census.invalid {
        let message = format!(
            "{} byte(s) are not valid UTF-8, the first at byte {at}; the rest of the file is \
             UTF-8, so it was read as UTF-8 and each such byte shows as U+FFFD: check \
             this row",
            census.invalid
        );
        return Ok((UTF_8, bom_len, vec![(at, message)]));
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
    Ok((WINDOWS_1252, bom_len, notes))
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

/// Longest first line read when looking for `sep=`: the hint is five characters.
const SEP_LINE_MAX: u64 = 4096;

/// Excel writes `sep=;` as the first line to name the delimiter; it is not data. Returns the
/// delimiter and the decoded length of the line with its line break.
fn sep_line(stream: &Stream) -> io::Result<Option<(u8, u64)>> {
    let mut first = Vec::new();
    let mut text = io::BufReader::new(stream.open(Arc::default())?.take(SEP_LINE_MAX));
    io::BufRead::read_until(&mut text, b'\n', &mut first)?;
    let line = String::from_utf8_lossy(&first);
    let first_line = line.lines().next().unwrap_or("");
    let hint = first_line
        .trim_end()
        .strip_prefix("sep=")
        .filter(|rest| rest.len() == 1 && rest.is_ascii())
        .map(|rest| rest.as_bytes()[0]);
    Ok(hint.map(|delimiter| (delimiter, first.len() as u64)))
}

/// The candidate that splits the sampled records most consistently into the most fields.
fn sniff_delimiter(stream: &Stream, prefer_tab: bool) -> io::Result<u8> {
    let default = if prefer_tab { b'\t' } else { b',' };
    let mut best = None;
    for &d in &CANDIDATES {
        let s = score(stream, d)?;
        // Ties go to the later candidate, as `max_by_key` chose before.
        if s > 0 && best.is_none_or(|(b, bd)| (s, d == default) >= (b, bd == default)) {
            best = Some((s, d));
        }
    }
    Ok(best.map_or(default, |(_, d)| d))
}

/// Records agreeing on the most common field count, times that count (0 if it is 1).
fn score(stream: &Stream, delimiter: u8) -> io::Result<usize> {
    let mut reader = csv_builder(delimiter).from_reader(stream.open(Arc::default())?);
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
    Ok(counts
        .into_iter()
        .filter(|&(fields, _)| fields > 1)
        .map(|(fields, agree)| agree * 4 + fields.min(64))
        .max()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn decode(bytes: &[u8], prefer_tab: bool) -> DelimitedText {
        detect(Origin::Bytes(bytes.into()), prefer_tab, &Limits::default()).unwrap()
    }

    impl DelimitedText {
        /// The whole decoded text, as the rows are parsed from it.
        fn text(&self) -> String {
            let mut text = String::new();
            self.open(Arc::default())
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        }
    }

    /// Reads every record as the rows are read, returning the first record refused.
    fn check_records(text: &DelimitedText, limits: &Limits) -> Result<(), (u64, String)> {
        let text = DelimitedText {
            limits: *limits,
            ..text.clone()
        };
        let mut rows = super::super::RawRows::csv(&text, Path::new("t.csv"), Arc::default())
            .map_err(|e| (0, e.to_string()))?;
        loop {
            match rows.next_row() {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(()),
                Err(crate::error::SheetError::Csv { record, reason, .. }) => {
                    return Err((record, reason));
                }
                Err(e) => return Err((0, e.to_string())),
            }
        }
    }

    /// Every chunk boundary falls somewhere: inside a multibyte character, inside a UTF-16
    /// pair, right after a bad byte.
    #[test]
    fn long_files_decode_across_chunks() {
        let line = "Zoë Müller, 凯, 😀\n";
        let utf8: String = line.repeat(CHUNK / line.len() * 3);
        let d = decode(utf8.as_bytes(), false);
        assert_eq!((d.encoding, d.text()), ("UTF-8", utf8.clone()));
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(utf8.encode_utf16().flat_map(u16::to_le_bytes));
        let d = decode(&utf16, false);
        assert_eq!((d.encoding, d.text()), ("UTF-16LE", utf8.clone()));
        let at = (CHUNK * 2 - 1..)
            .find(|i| utf8.is_char_boundary(*i))
            .unwrap();
        let mut broken = utf8.as_bytes().to_vec();
        broken.insert(at, 0xFF);
        let d = decode(&broken, false);
        assert_eq!(d.encoding, "UTF-8");
        assert_eq!(d.text().matches('\u{FFFD}').count(), 1);
        assert_eq!(d.notes[0].byte, at as u64);
    }

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
        assert_eq!(d.text(), "A;1\r\n2;3");
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
        assert_eq!((d.encoding, d.text().as_str()), (encoding, text));
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
        assert!(d.text().contains("Zoë Müller"));
        assert!(d.text().contains("Ann\u{FFFD}"));
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
        assert_eq!(d.text(), "name\nJosé\nRenée\n");
        assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
        assert_eq!((d.notes[0].row, d.notes[0].byte), (2, 17));
        assert!(d.notes[0].message.contains("byte order mark"));
    }
}
