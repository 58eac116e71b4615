//! A bounded pass over a zip workbook's parts before calamine inflates them (calamine reads
//! the file behind this pass: [`super::gate`]).
//!
//! calamine inflates a cell, the shared strings or an ODS sheet's repeated cells whole; a small
//! hostile file then costs gigabytes and aborts. This pass streams each part calamine will read
//! through a fixed buffer, counting what it would hold, and stops at the first limit.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::limits::{Exceeded, Limits, MAX_COLUMNS, MAX_ROWS};

/// What goes wrong in a part: a limit, or more rows than Excel's grid.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Breach {
    Limit(Exceeded, String),
    Grid(String),
}

impl Breach {
    pub(super) fn message(&self, limits: &Limits) -> String {
        match self {
            Breach::Limit(which, what) => which.message(limits, what),
            Breach::Grid(what) => what.clone(),
        }
    }
}

/// A part of the zip the guard checks before calamine may inflate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    /// Its place in the zip's directory.
    index: usize,
    name: String,
    kind: Kind,
    /// Where its compressed bytes lie in the file.
    pub(super) data: Range<u64>,
}

impl Part {
    /// A worksheet, which calamine streams; the other parts are loaded whole when the
    /// workbook opens.
    fn streamed(&self) -> bool {
        matches!(self.kind, Kind::SheetXml | Kind::Binary { shared: false })
    }
}

/// The zip the guard reads, and how far into the file its reads have got.
pub(super) struct Package {
    zip: zip::ZipArchive<BufReader<Tracked>>,
    read_to: Arc<AtomicU64>,
}

/// The file under the guard's zip reader, telling how far it has been read.
struct Tracked {
    file: File,
    at: u64,
    read_to: Arc<AtomicU64>,
}

impl Read for Tracked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.at += n as u64;
        self.read_to.store(self.at, Ordering::Release);
        Ok(n)
    }
}

impl Seek for Tracked {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.at = self.file.seek(to)?;
        self.read_to.store(self.at, Ordering::Release);
        Ok(self.at)
    }
}

/// The parts of the zip at `path` that calamine reads, in the order the guard checks them:
/// those calamine loads whole when it opens the workbook first, then the worksheets, which it
/// streams; each group in the zip's order. `None` if it is not a zip (or a broken one:
/// calamine says what is wrong with it).
pub(super) fn parts(path: &Path) -> Option<(Package, Vec<Part>)> {
    let file = File::open(path).ok()?;
    let read_to = Arc::new(AtomicU64::new(0));
    let tracked = Tracked {
        file,
        at: 0,
        read_to: Arc::clone(&read_to),
    };
    let mut zip = zip::ZipArchive::new(BufReader::new(tracked)).ok()?;
    let mut parts = Vec::new();
    for index in 0..zip.len() {
        // Raw: no inflating yet, only where the bytes are (an entry that cannot be inflated
        // here is still held back until the guard is done).
        let Ok(entry) = zip.by_index_raw(index) else {
            continue;
        };
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let (Some(kind), Some(start)) = (Kind::of(&name), entry.data_start()) else {
            continue;
        };
        let end = start.saturating_add(entry.compressed_size());
        parts.push(Part {
            index,
            name,
            kind,
            data: start..end,
        });
    }
    parts.sort_by_key(|p| (p.streamed(), p.index));
    Some((Package { zip, read_to }, parts))
}

/// Checks every part of `parts` in turn; after each buffer of a part, and once it has passed,
/// `checked` hears the part's place in `parts` and the file offset below which its compressed
/// bytes have all been inflated and scanned (answering false stops the check: nobody wants it
/// any more).
pub(super) fn check_parts(
    package: &mut Package,
    parts: &[Part],
    limits: &Limits,
    checked: &mut dyn FnMut(usize, u64) -> bool,
) -> Result<(), String> {
    for (at, part) in parts.iter().enumerate() {
        // One the zip reader cannot inflate is left as before the guard: calamine says.
        let Ok(entry) = package.zip.by_index(part.index) else {
            continue;
        };
        let read_to = &package.read_to;
        let mut on_buffer = || {
            // Bytes read from the file but not yet inflated sit in the zip reader's and the
            // inflater's buffers (tens of KiB): what lies that far behind has been scanned.
            let behind = read_to.load(Ordering::Acquire).saturating_sub(READ_AHEAD);
            checked(at, behind)
        };
        check_part_with(entry, part.kind, limits, &mut on_buffer)
            .map_err(|b| format!("{}: {}", part.name, b.message(limits)))?;
        // Passed whole: its last bytes too.
        if !checked(at, part.data.end) {
            break;
        }
    }
    Ok(())
}

/// More than the zip reader and its inflater ever read ahead of what they hand out.
const READ_AHEAD: u64 = 1 << 20;

/// The parts calamine reads, by how they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An xlsx worksheet: rows are counted.
    SheetXml,
    SharedStringsXml,
    /// ODS `content.xml`: repeated rows and columns are counted.
    OdsContent,
    /// Any other XML part: only sizes are bounded.
    OtherXml,
    /// An xlsb binary part: record sizes and rows.
    Binary {
        shared: bool,
    },
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        let is_xml = lower.ends_with(".xml") || lower.ends_with(".rels");
        Some(match lower.as_str() {
            "content.xml" => Kind::OdsContent,
            "xl/sharedstrings.xml" => Kind::SharedStringsXml,
            "xl/sharedstrings.bin" => Kind::Binary { shared: true },
            n if n.starts_with("xl/worksheets/") && n.ends_with(".bin") => {
                Kind::Binary { shared: false }
            }
            n if n.starts_with("xl/worksheets/") && is_xml => Kind::SheetXml,
            n if n.starts_with("xl/media/") || n.starts_with("xl/embeddings/") => return None,
            // The parts calamine reads besides sheets and strings; customXml and docProps are
            // not read, and may hold long runs of base64.
            n if is_xml && (n.starts_with("xl/") || n.ends_with(".rels")) => Kind::OtherXml,
            "[content_types].xml" | "meta-inf/manifest.xml" | "styles.xml" | "meta.xml" => {
                Kind::OtherXml
            }
            _ => return None,
        })
    }

    fn part_limit(self, limits: &Limits) -> (u64, Exceeded) {
        match self {
            Kind::SharedStringsXml | Kind::Binary { shared: true } => {
                (limits.shared_strings_bytes, Exceeded::SharedStringsBytes)
            }
            _ => (limits.part_bytes, Exceeded::PartBytes),
        }
    }
}

/// Streams one part through its scanner, never holding more than one buffer of it.
#[cfg(test)]
pub(super) fn check_part(part: impl Read, kind: Kind, limits: &Limits) -> Result<(), Breach> {
    check_part_with(part, kind, limits, &mut || true)
}

/// [`check_part`], calling `on_buffer` after each buffer is scanned; its false stops the
/// check there, with no breach.
fn check_part_with(
    mut part: impl Read,
    kind: Kind,
    limits: &Limits,
    on_buffer: &mut dyn FnMut() -> bool,
) -> Result<(), Breach> {
    let (part_limit, exceeded) = kind.part_limit(limits);
    let mut scanner = Scanner::new(kind, limits);
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match part.read(&mut buf) {
            Ok(0) | Err(_) => return scanner.finish(),
            Ok(n) => n,
        };
        total += n as u64;
        if total > part_limit {
            return Err(Breach::Limit(exceeded, "this part".to_owned()));
        }
        scanner.feed(&buf[..n])?;
        if !on_buffer() {
            return Ok(());
        }
    }
}

enum Scanner {
    Xml(XmlScan),
    Binary(BinaryScan),
}

impl Scanner {
    fn new(kind: Kind, limits: &Limits) -> Scanner {
        match kind {
            Kind::Binary { .. } => Scanner::Binary(BinaryScan::new(limits.cell_bytes)),
            _ => Scanner::Xml(XmlScan::new(kind, limits)),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), Breach> {
        match self {
            Scanner::Xml(x) => x.feed(bytes),
            Scanner::Binary(b) => b.feed(bytes),
        }
    }

    fn finish(self) -> Result<(), Breach> {
        Ok(())
    }
}

/// Longest tag kept for its name and attributes; longer tags are only measured.
const TAG_KEPT: usize = 4096;

/// XML as runs between `<` and `>`: every run (a text node or a tag) is bounded, and tags that
/// start rows and cells are counted.
struct XmlScan {
    kind: Kind,
    cell_bytes: u64,
    in_tag: bool,
    run: u64,
    /// Text inside the current cell (`<c>`) or shared string (`<si>`), over all its runs: a
    /// rich-text string split into many short runs is still one cell.
    cell_text: u64,
    in_cell: bool,
    tag: Vec<u8>,
    rows: u64,
    ods: OdsCount,
}

impl XmlScan {
    fn new(kind: Kind, limits: &Limits) -> XmlScan {
        XmlScan {
            kind,
            cell_bytes: limits.cell_bytes,
            in_tag: false,
            run: 0,
            cell_text: 0,
            in_cell: false,
            tag: Vec::new(),
            rows: 0,
            ods: OdsCount::new(limits.ods_cells),
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Breach> {
        while !bytes.is_empty() {
            // memchr: this pass runs over every byte of every sheet before it is read.
            let cut = memchr::memchr2(b'<', b'>', bytes).unwrap_or(bytes.len());
            if self.in_tag && self.tag.is_empty() && bytes.get(cut) == Some(&b'>') {
                // The whole tag lies in this buffer: read where it lies, not copied.
                let tag = &bytes[..cut];
                self.count(tag.len())?;
                self.in_tag = false;
                self.run = 0;
                self.on_tag(&tag[..tag.len().min(TAG_KEPT)])?;
                bytes = &bytes[cut + 1..];
                continue;
            }
            self.extend(&bytes[..cut])?;
            match bytes.get(cut) {
                Some(b'<') => {
                    self.in_tag = true;
                    self.run = 0;
                    self.tag.clear();
                }
                Some(_) if self.in_tag => {
                    self.in_tag = false;
                    self.run = 0;
                    let tag = std::mem::take(&mut self.tag);
                    let read = self.on_tag(&tag);
                    // Its room is kept for the next tag that crosses a buffer.
                    self.tag = tag;
                    self.tag.clear();
                    read?;
                }
                Some(_) => self.extend(b">")?,
                None => {}
            }
            bytes = &bytes[(cut + 1).min(bytes.len())..];
        }
        Ok(())
    }

    fn extend(&mut self, run: &[u8]) -> Result<(), Breach> {
        self.count(run.len())?;
        if self.in_tag && self.tag.len() < TAG_KEPT {
            let room = TAG_KEPT - self.tag.len();
            self.tag.extend_from_slice(&run[..run.len().min(room)]);
        }
        Ok(())
    }

    /// Counts `len` more bytes of the current run (and of the cell's text outside tags).
    fn count(&mut self, len: usize) -> Result<(), Breach> {
        self.run += len as u64;
        if self.in_cell && !self.in_tag {
            self.cell_text += len as u64;
        }
        if self.run.max(self.cell_text) > self.cell_bytes {
            let what = if self.in_tag {
                "a tag"
            } else {
                "a cell or string"
            };
            return Err(Breach::Limit(Exceeded::CellBytes, what.to_owned()));
        }
        Ok(())
    }

    /// A tag just closed: its text from after `<` (at most [`TAG_KEPT`] bytes of it).
    fn on_tag(&mut self, tag: &[u8]) -> Result<(), Breach> {
        // A closing tag's name keeps its `/`; a self-closing tag's ends before it.
        let name_end = tag
            .iter()
            .skip(1)
            .position(|b| b.is_ascii_whitespace() || *b == b'/')
            .map_or(tag.len(), |i| i + 1);
        let name = &tag[..name_end];
        let element = local(name.strip_prefix(b"/").unwrap_or(name));
        if matches!(element, b"c" | b"si") {
            self.cell_text = 0;
            self.in_cell = !tag.starts_with(b"/") && !tag.ends_with(b"/");
        }
        match self.kind {
            Kind::SheetXml if local(name) == b"row" && tag.first() != Some(&b'/') => {
                self.rows += 1;
                if self.rows > u64::from(MAX_ROWS) {
                    return Err(Breach::Grid(format!(
                        "more than {MAX_ROWS} rows, the most Excel's grid holds"
                    )));
                }
            }
            Kind::OdsContent => self.ods.on_tag(name, tag)?,
            _ => {}
        }
        Ok(())
    }
}

/// An element name without its namespace prefix.
fn local(name: &[u8]) -> &[u8] {
    name.iter()
        .position(|b| *b == b':')
        .map_or(name, |i| &name[i + 1..])
}

/// The number in attribute `attr="…"` of a tag, if present.
fn attr_number(tag: &[u8], attr: &[u8]) -> Option<u64> {
    let at = tag.windows(attr.len() + 2).position(|w| {
        w.starts_with(attr) && w[attr.len()] == b'=' && matches!(w[attr.len() + 1], b'"' | b'\'')
    })?;
    let digits = &tag[at + attr.len() + 2..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

/// Cells an ODS table holds once calamine spells out `number-rows-repeated` and
/// `number-columns-repeated`, counted without spelling them out.
///
/// calamine keeps each row up to its last non-empty cell, repeated as often as the row says;
/// empty rows between filled ones become rows of the table's width.
struct OdsCount {
    limit: u64,
    cells: u64,
    rows: u64,
    width: u64,
    pending_empty_rows: u64,
    row_repeats: u64,
    row_columns: u64,
    row_filled: u64,
}

impl OdsCount {
    fn new(limit: u64) -> OdsCount {
        OdsCount {
            limit,
            cells: 0,
            rows: 0,
            width: 0,
            pending_empty_rows: 0,
            row_repeats: 1,
            row_columns: 0,
            row_filled: 0,
        }
    }

    fn on_tag(&mut self, name: &[u8], tag: &[u8]) -> Result<(), Breach> {
        match name {
            b"table:table" => *self = OdsCount::new(self.limit),
            b"table:table-row" => {
                self.row_repeats = attr_number(tag, b"table:number-rows-repeated").unwrap_or(1);
                self.row_columns = 0;
                self.row_filled = 0;
                if tag.ends_with(b"/") {
                    self.end_row()?;
                }
            }
            b"table:table-cell" | b"table:covered-table-cell" => {
                let repeats = attr_number(tag, b"table:number-columns-repeated").unwrap_or(1);
                self.row_columns =
                    (self.row_columns.saturating_add(repeats)).min(u64::from(MAX_COLUMNS));
                let empty = tag.ends_with(b"/") && !contains(tag, b"office:value-type");
                if !empty {
                    self.row_filled = self.row_columns;
                }
            }
            b"/table:table-row" => self.end_row()?,
            _ => {}
        }
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), Breach> {
        let room = u64::from(MAX_ROWS).saturating_sub(self.rows);
        let repeats = self.row_repeats.min(room);
        self.rows += repeats;
        if self.row_filled == 0 {
            self.pending_empty_rows += repeats;
            return Ok(());
        }
        self.width = self.width.max(self.row_filled);
        let held = self
            .pending_empty_rows
            .saturating_mul(self.width)
            .saturating_add(repeats.saturating_mul(self.row_filled));
        self.pending_empty_rows = 0;
        self.cells = self.cells.saturating_add(held);
        if self.cells > self.limit {
            return Err(Breach::Limit(
                Exceeded::OdsCells,
                "a sheet's repeated rows × columns".to_owned(),
            ));
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// xlsb records: a 1–2 byte type and a 1–4 byte size, each 7 bits a byte; a record's size is
/// bounded like a cell, and row headers are counted.
struct BinaryScan {
    cell_bytes: u64,
    state: Record,
    rows: u64,
}

enum Record {
    Type {
        value: u32,
        bytes: u8,
    },
    Size {
        kind: u32,
        value: u64,
        bytes: u8,
    },
    /// A row header's first four bytes: the row's index, which calamine takes past Excel's grid
    /// as the sheet's end, quietly dropping the rows after it.
    RowIndex {
        value: u32,
        bytes: u8,
        left: u64,
    },
    Body {
        left: u64,
    },
}

/// BrtRowHdr, the record that starts each row of an xlsb worksheet.
const ROW_HEADER: u32 = 0;

impl BinaryScan {
    fn new(cell_bytes: u64) -> BinaryScan {
        BinaryScan {
            cell_bytes,
            state: Record::Type { value: 0, bytes: 0 },
            rows: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Breach> {
        while let Some((&b, rest)) = bytes.split_first() {
            match &mut self.state {
                Record::Body { left } => {
                    let skip = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *left -= skip as u64;
                    bytes = &bytes[skip..];
                    if *left == 0 {
                        self.state = Record::Type { value: 0, bytes: 0 };
                    }
                    continue;
                }
                Record::RowIndex {
                    value,
                    bytes: n,
                    left,
                } => {
                    *value |= u32::from(b) << (8 * *n);
                    *n += 1;
                    *left -= 1;
                    if *n == 4 {
                        check_row_index(*value)?;
                        self.state = match *left {
                            0 => Record::Type { value: 0, bytes: 0 },
                            left => Record::Body { left },
                        };
                    }
                }
                Record::Type { value, bytes: n } => {
                    *value |= u32::from(b & 0x7f) << (7 * *n);
                    *n += 1;
                    if b & 0x80 == 0 || *n == 2 {
                        self.state = Record::Size {
                            kind: *value,
                            value: 0,
                            bytes: 0,
                        };
                    }
                }
                Record::Size {
                    kind,
                    value,
                    bytes: n,
                } => {
                    *value |= u64::from(b & 0x7f) << (7 * *n);
                    *n += 1;
                    if b & 0x80 == 0 || *n == 4 {
                        let (kind, size) = (*kind, *value);
                        self.record(kind, size)?;
                        self.state = if size == 0 {
                            Record::Type { value: 0, bytes: 0 }
                        } else if kind == ROW_HEADER && size >= 4 {
                            Record::RowIndex {
                                value: 0,
                                bytes: 0,
                                left: size,
                            }
                        } else {
                            Record::Body { left: size }
                        };
                    }
                }
            }
            bytes = rest;
        }
        Ok(())
    }

    fn record(&mut self, kind: u32, size: u64) -> Result<(), Breach> {
        if size > self.cell_bytes {
            return Err(Breach::Limit(
                Exceeded::CellBytes,
                "a record (a cell or string)".to_owned(),
            ));
        }
        if kind == ROW_HEADER {
            self.rows += 1;
            if self.rows > u64::from(MAX_ROWS) {
                return Err(Breach::Grid(format!(
                    "more than {MAX_ROWS} rows, the most Excel's grid holds"
                )));
            }
        }
        Ok(())
    }
}

/// A row header's index (0-based) inside Excel's grid ([`MAX_ROWS`]).
fn check_row_index(index: u32) -> Result<(), Breach> {
    if index < MAX_ROWS {
        return Ok(());
    }
    Err(Breach::Grid(format!(
        "row {} is beyond Excel's grid of 16,384 columns × 1,048,576 rows; the file is \
         damaged or hostile",
        u64::from(index) + 1
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(kind: Kind, bytes: &[u8], limits: &Limits) -> Result<(), Breach> {
        // Fed in small chunks so runs and tags cross buffer boundaries.
        let mut scanner = Scanner::new(kind, limits);
        for chunk in bytes.chunks(3) {
            scanner.feed(chunk)?;
        }
        Ok(())
    }

    /// The limit `bytes` reach, if any.
    fn limit_hit(kind: Kind, bytes: &[u8], limits: &Limits) -> Option<Exceeded> {
        match scan(kind, bytes, limits) {
            Err(Breach::Limit(which, _)) => Some(which),
            _ => None,
        }
    }

    /// A tag read where it lies in the buffer is read as one copied across buffers: the same
    /// rows, cells and breaches whatever the buffers' size.
    #[test]
    fn tags_read_in_place_or_across_buffers_agree() {
        let limits = Limits {
            cell_bytes: 40,
            ..Limits::default()
        };
        let long_tag = format!("<row r=\"9\" {}>", "x".repeat(TAG_KEPT + 10));
        let inputs: Vec<(Kind, String)> = vec![
            (Kind::SheetXml, "<sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c></row><row r=\"2\"/><x:row>a > b</x:row></sheetData>".into()),
            (Kind::SheetXml, "<row><c><v>0123456789012345678901234567890123456789x</v></c></row>".into()),
            (Kind::SheetXml, format!("<row>{long_tag}<c/></row>")),
            (Kind::SheetXml, "<row <row><c>text</c></row>".into()),
            (Kind::SharedStringsXml, "<si><r><t>0123456789</t></r><r><t>0123456789</t></r></si><si/>".into()),
            (Kind::OdsContent, "<table:table-row table:number-rows-repeated=\"3\"><table:table-cell table:number-columns-repeated=\"4\"><text:p>a</text:p></table:table-cell></table:table-row>".into()),
        ];
        for (kind, xml) in inputs {
            let outcome = |size: usize| {
                let mut scan = XmlScan::new(kind, &limits);
                let result = xml.as_bytes().chunks(size).try_for_each(|c| scan.feed(c));
                (result, scan.rows, scan.ods.cells, scan.cell_text)
            };
            let whole = outcome(xml.len());
            if xml.starts_with("<sheetData>") {
                assert!(whole.0.is_ok() && whole.1 == 3, "three rows, one prefixed");
            }
            if xml.contains("789x") {
                assert!(whole.0.is_err(), "a cell over the limit");
            }
            for size in [1, 3, 7, 64] {
                assert_eq!(outcome(size), whole, "{xml:.60} in buffers of {size}");
            }
        }
    }

    #[test]
    fn a_long_text_node_is_over_the_cell_limit() {
        let limits = Limits {
            cell_bytes: 10,
            ..Limits::default()
        };
        let ok = b"<c r=\"A1\"><v>0123456789</v></c>";
        assert_eq!(scan(Kind::SheetXml, ok, &limits), Ok(()));
        let long = b"<c r=\"A1\"><v>0123456789x</v></c>";
        let hit = limit_hit(Kind::SheetXml, long, &limits);
        assert_eq!(hit, Some(Exceeded::CellBytes));
        // Rich text: many short runs, one long string.
        let runs = b"<si><r><t>012345</t></r><r><t>6789x</t></r></si>";
        let hit = limit_hit(Kind::SharedStringsXml, runs, &limits);
        assert_eq!(hit, Some(Exceeded::CellBytes));
        let two = b"<si><t>0123456789</t></si>\n <si><t>0123456789</t></si>";
        assert_eq!(scan(Kind::SharedStringsXml, two, &limits), Ok(()));
    }

    #[test]
    fn ods_repeats_are_counted_not_spelled_out() {
        let limits = Limits {
            ods_cells: 1000,
            ..Limits::default()
        };
        let table = |rows: u32, cols: u32| {
            format!(
                "<table:table><table:table-row table:number-rows-repeated=\"{rows}\">\
                 <table:table-cell table:number-columns-repeated=\"{cols}\" \
                 office:value-type=\"float\"><text:p>1</text:p></table:table-cell>\
                 <table:table-cell table:number-columns-repeated=\"16000\"/>\
                 </table:table-row><table:table-row table:number-rows-repeated=\"1048000\">\
                 <table:table-cell/></table:table-row></table:table>"
            )
        };
        assert_eq!(
            scan(Kind::OdsContent, table(10, 100).as_bytes(), &limits),
            Ok(())
        );
        let hit = limit_hit(Kind::OdsContent, table(11, 100).as_bytes(), &limits);
        assert_eq!(hit, Some(Exceeded::OdsCells));
    }

    #[test]
    fn xlsb_records_are_bounded_and_rows_counted() {
        let limits = Limits {
            cell_bytes: 100,
            ..Limits::default()
        };
        // A row header (type 0, 4 bytes), then a string cell (type 6) of 200 bytes: size 200 is
        // 0xC8 0x01 in seven-bit groups.
        let mut bytes = vec![0, 4, 1, 0, 0, 0, 6, 0xC8, 0x01];
        bytes.extend([b'x'; 200]);
        let hit = limit_hit(Kind::Binary { shared: false }, &bytes, &limits);
        assert_eq!(hit, Some(Exceeded::CellBytes));
        let rows: Vec<u8> = std::iter::repeat_n([0u8, 0], 1_048_577).flatten().collect();
        assert!(matches!(
            scan(Kind::Binary { shared: false }, &rows, &Limits::default()),
            Err(Breach::Grid(_))
        ));
        // Row indexes 1,048,575 (Excel's last row) then 1,048,576, in row headers of 4 bytes.
        let last = [0, 4, 0xff, 0xff, 0x0f, 0];
        assert_eq!(
            scan(Kind::Binary { shared: false }, &last, &Limits::default()),
            Ok(())
        );
        let past = [0, 5, 0, 0, 0x10, 0, 9];
        assert!(matches!(
            scan(Kind::Binary { shared: false }, &past, &Limits::default()),
            Err(Breach::Grid(m)) if m.contains("row 1048577")
        ));
    }

    #[test]
    fn part_sizes_are_bounded_while_inflating() {
        let limits = Limits {
            part_bytes: 1000,
            shared_strings_bytes: 100,
            ..Limits::default()
        };
        let bytes = vec![b' '; 500];
        assert_eq!(check_part(&bytes[..], Kind::OtherXml, &limits), Ok(()));
        assert!(matches!(
            check_part(&bytes[..], Kind::SharedStringsXml, &limits),
            Err(Breach::Limit(Exceeded::SharedStringsBytes, _))
        ));
    }
}
