//! Text from a PSA or a connector, made safe for where it is printed.
//!
//! Customer names, PSA messages, check steps, warnings and guest output are
//! hostile input: a raw newline forges a log line, an escape sequence
//! repaints a terminal, a bidi override reverses what a reader sees, and a
//! CSV cell that starts with `=` is a formula in a spreadsheet. The host
//! and the CLI pass such text through this module wherever it reaches a
//! terminal, a log line or a CSV file. JSON output needs nothing more:
//! serde escapes it.
//!
//! | function | for | what changes |
//! |---|---|---|
//! | [`for_terminal`] | terminal output, log lines, error messages | C0 controls (`\n`, `\r`, `\t`, ESC...), DEL, C1 controls and bidi controls (U+061C, U+200E/F, U+202A–E, U+2066–9) are written as `\n`, `\r`, `\t` or `\u{1b}`; everything else is kept |
//! | [`csv_cell`] | a CSV cell (the `csv` crate quotes it) | a cell beginning with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` (OWASP's advice against CSV injection) |

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or log line raw.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control and bidi-control character escaped, so it
/// stays on one line and cannot drive a terminal. Borrowed when nothing
/// needed escaping.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `cell` as it may go into a CSV file that someone opens in a spreadsheet.
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_as_the_table_says() {
        assert_eq!(for_terminal("Acme Ltd (Zürich)"), "Acme Ltd (Zürich)");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(for_terminal("\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(for_terminal("x\x7fy\u{85}z\u{9b}"), "x\\u{7f}y\\u{85}z\\u{9b}");
        assert_eq!(for_terminal("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        assert_eq!(for_terminal("\u{2066}\u{200f}"), "\\u{2066}\\u{200f}");
    }

    #[test]
    fn csv_cells_as_the_table_says() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"http://evil.example\",\"x\")"] {
            assert_eq!(csv_cell(bad), format!("'{bad}"));
        }
        for good in ["Acme", "", " =x", "a=b", "'quoted"] {
            assert_eq!(csv_cell(good), good);
        }
    }
}
