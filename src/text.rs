//! Cell text made safe to show: one line, no terminal control characters, a bounded width.

/// The text with line breaks as `⏎` and other control characters (an escape sequence hidden
/// in a cell, say) as their visible Unicode pictures, so a cell can never drive the terminal.
///
/// C1 and bidi controls show as `<U+202E>`, as [`visible`] shows them in files and streams,
/// so the screen and the report name the same character the same way.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_shown(&mut out, c);
    }
    out
}

/// One line of at most `max` characters: [`printable`], long text cut with `…`.
pub fn shorten(s: &str, max: usize) -> String {
    let shown = printable(s);
    if shown.chars().count() <= max {
        return shown;
    }
    let mut cut: String = shown.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Text for a file or a stream (stderr, stdout, a report): line breaks and tabs kept, every
/// other control made visible — C0 as its picture (`␛`, `␇`), DEL as `␡`, C1 and bidi controls
/// (which reorder what follows, U+202E) as `<U+202E>` — so nothing a server or a cell sends can
/// drive the terminal that shows it, or hide text, while the data stays readable.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push('␍'),
            c => push_shown(&mut out, c),
        }
    }
    out
}

/// `c` as shown: C1 and bidi controls as `<U+202E>` (a picture-less control named by its code
/// point), the others as [`visible_char`].
fn push_shown(out: &mut String, c: char) {
    if is_bidi_control(c) || ('\u{80}'..='\u{9f}').contains(&c) {
        out.push_str(&format!("<U+{:04X}>", u32::from(c)));
    } else {
        out.push(visible_char(c));
    }
}

/// A writer that passes text through [`visible`]: stdout of commands that print cells or
/// server text. UTF-8 split across writes is held until complete; invalid bytes show as `�`.
pub struct VisibleWriter<W: std::io::Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: std::io::Write> VisibleWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes what is complete; `all` also writes a trailing partial character, as `�`.
    fn drain(&mut self, all: bool) -> std::io::Result<()> {
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() && !all => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let text = String::from_utf8_lossy(&self.pending[..complete]).into_owned();
        self.pending.drain(..complete);
        self.inner.write_all(visible(&text).as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for VisibleWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.drain(true)?;
        self.inner.flush()
    }
}

/// Controls that reorder text (Unicode bidi embeddings, overrides, isolates and marks): a
/// U+202E in a name shows `moc.elpmaxe@` for `@example.com`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn visible_char(c: char) -> char {
    match c {
        '\n' | '\r' => '⏎',
        '\t' => ' ',
        // C0 controls and DEL have pictures at U+2400..U+2421.
        c if u32::from(c) < 0x20 => char::from_u32(0x2400 + u32::from(c)).unwrap_or('?'),
        '\u{7f}' => '␡',
        // C1 controls (0x80..0x9f) can start escape sequences too.
        c if c.is_control() || is_bidi_control(c) => '�',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(
            printable("a\u{1b}[2Jb\r\nc\u{9b}d\u{7}"),
            "a␛[2Jb⏎⏎c<U+009B>d␇"
        );
        assert_eq!(shorten("Ana\tSilva", 20), "Ana Silva");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
        assert_eq!(shorten("äöü", 3), "äöü");
        assert_eq!(printable("Ana\u{202e}moc"), "Ana<U+202E>moc");
        assert_eq!(shorten("Ana\u{202e}moc", 9), "Ana<U+20…");
    }

    #[test]
    fn visible_text_keeps_lines_and_shows_every_control() {
        assert_eq!(
            visible("a\u{1b}]52;c;aGk=\u{7}b\u{202e}c\n\td\u{9b}e\u{2066}\r\u{7f}"),
            "a␛]52;c;aGk=␇b<U+202E>c\n\td<U+009B>e<U+2066>␍␡"
        );
        assert_eq!(visible("Zoë Müller 名前"), "Zoë Müller 名前");
    }

    #[test]
    fn the_visible_writer_keeps_characters_split_across_writes() {
        use std::io::Write as _;
        let mut out = VisibleWriter::new(Vec::new());
        let bytes = "é\u{202e}\u{1b}".as_bytes();
        for b in bytes {
            out.write_all(&[*b]).unwrap();
        }
        out.write_all(&[0xc3]).unwrap();
        out.flush().unwrap();
        assert_eq!(String::from_utf8(out.inner).unwrap(), "é<U+202E>␛�");
    }
}
