//! Cell text made safe to show: one line, no terminal control characters, a bounded width.

/// The text with line breaks as `⏎` and other control characters (an escape sequence hidden
/// in a cell, say) as their visible Unicode pictures, so a cell can never drive the terminal.
pub fn printable(s: &str) -> String {
    s.chars().map(visible).collect()
}

/// One line of at most `max` characters: [`printable`], long text cut with `…`.
pub fn shorten(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return printable(s);
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).map(visible).collect();
    cut.push('…');
    cut
}

fn visible(c: char) -> char {
    match c {
        '\n' | '\r' => '⏎',
        '\t' => ' ',
        // C0 controls and DEL have pictures at U+2400..U+2421.
        c if u32::from(c) < 0x20 => char::from_u32(0x2400 + u32::from(c)).unwrap_or('?'),
        '\u{7f}' => '␡',
        // C1 controls (0x80..0x9f) can start escape sequences too.
        c if c.is_control() => '�',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        assert_eq!(printable("a\u{1b}[2Jb\r\nc\u{9b}d\u{7}"), "a␛[2Jb⏎⏎c�d␇");
        assert_eq!(shorten("Ana\tSilva", 20), "Ana Silva");
        assert_eq!(shorten("abcdefgh", 5), "abcd…");
        assert_eq!(shorten("äöü", 3), "äöü");
    }
}
