//! Repairing the JSON that bash interpolation breaks, before giving up on a body.
//!
//! The clients build their bodies from heredocs with `${VAR}` inside, so a body can be
//! invalid JSON in a handful of known ways (docs/client-contract.md, "Broken JSON and its
//! repair"). Each repair below undoes exactly one of them, and each has a unit test.
//! Repair only runs after a strict parse failed, so a well-formed body is never touched;
//! and what it produces is parsed strictly again, so a body it cannot make whole is still
//! rejected.
//!
//! Inside strings:
//! - raw control characters (tabs, newlines, ESC from ANSI colours) are escaped;
//! - `\xNN` escapes become the characters they encode (UTF-8 sequences decoded whole);
//! - bash's `\'` becomes `'`;
//! - any other invalid escape keeps its backslash as a literal backslash;
//! - a `"` that cannot end the string (it is not followed by `,` + key, `:`, `}` or `]`)
//!   is an unescaped quote from the interpolated text, and is escaped.
//!
//! Outside strings:
//! - a bare value such as `32G` (a number with a unit) or `debian` becomes a string, and
//!   the field's own rules decide what it means (`32G` is 32 for `disk_size`, in GB);
//! - an empty value (`"core_count": ,`) becomes `null`;
//! - a trailing comma before `}` or `]` is dropped.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    #[error("a string is never closed")]
    UnterminatedString,
    #[error("unexpected value {0:?}")]
    BadToken(String),
}

/// Repair `input` into text that has a chance to be valid JSON.
pub fn repair(input: &[u8]) -> Result<String, RepairError> {
    // Invalid UTF-8 (raw bytes pasted into an error text) becomes U+FFFD.
    let text = String::from_utf8_lossy(input);
    let s: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        match c {
            '"' => i = string(&s, i, &mut out)?,
            ',' => {
                // A trailing comma, left by a field the script skipped, is dropped.
                if !matches!(next_significant(&s, i + 1), Some('}' | ']')) {
                    out.push(',');
                }
                i += 1;
            }
            ':' => {
                out.push(':');
                // `"key": ,` is what `"key": ${EMPTY}` renders to.
                if matches!(next_significant(&s, i + 1), Some(',' | '}') | None) {
                    out.push_str(" null");
                }
                i += 1;
            }
            '{' | '}' | '[' | ']' => {
                out.push(c);
                i += 1;
            }
            c if c.is_whitespace() => {
                out.push(c);
                i += 1;
            }
            _ => i = bare_token(&s, i, &mut out)?,
        }
    }
    Ok(out)
}

fn next_significant(s: &[char], from: usize) -> Option<char> {
    s[from.min(s.len())..]
        .iter()
        .copied()
        .find(|c| !c.is_whitespace())
}

/// A value outside quotes: a JSON literal stays, a word or a number with a unit is quoted.
fn bare_token(s: &[char], start: usize, out: &mut String) -> Result<usize, RepairError> {
    let end = s[start..]
        .iter()
        .position(|c| matches!(c, ',' | '}' | ']' | ':' | '"' | '{' | '[') || c.is_whitespace())
        .map_or(s.len(), |p| start + p);
    let token: String = s[start..end].iter().collect();
    if is_json_literal(&token) {
        out.push_str(&token);
    } else if token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '/'))
    {
        out.push('"');
        out.push_str(&token);
        out.push('"');
    } else {
        return Err(RepairError::BadToken(token));
    }
    Ok(end)
}

fn is_json_literal(token: &str) -> bool {
    matches!(token, "true" | "false" | "null")
        || serde_json::from_str::<serde_json::Number>(token).is_ok()
}

/// Copy the string that opens at `s[start]`, repaired; returns the index after it.
fn string(s: &[char], start: usize, out: &mut String) -> Result<usize, RepairError> {
    out.push('"');
    let mut j = start + 1;
    while j < s.len() {
        match s[j] {
            '"' if closes_string(s, j) => {
                out.push('"');
                return Ok(j + 1);
            }
            '"' => {
                out.push_str("\\\"");
                j += 1;
            }
            '\\' => j = escape(s, j, out),
            c if (c as u32) < 0x20 => {
                push_escaped(c, out);
                j += 1;
            }
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(RepairError::UnterminatedString)
}

/// Whether the quote at `s[at]` can end a string: what follows must be structure.
fn closes_string(s: &[char], at: usize) -> bool {
    let mut k = at + 1;
    while k < s.len() && s[k].is_whitespace() {
        k += 1;
    }
    match s.get(k) {
        None | Some(':' | '}' | ']') => true,
        // After a comma comes the next key (or the next object of a batch).
        Some(',') => matches!(
            next_significant(s, k + 1),
            Some('"' | '{' | '}' | ']') | None
        ),
        _ => false,
    }
}

/// Copy the escape at `s[at]` (a backslash), repaired; returns the index after it.
fn escape(s: &[char], at: usize, out: &mut String) -> usize {
    match s.get(at + 1) {
        Some(c @ ('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't')) => {
            out.push('\\');
            out.push(*c);
            at + 2
        }
        Some('u') if s.len() >= at + 6 && s[at + 2..at + 6].iter().all(char::is_ascii_hexdigit) => {
            out.extend(&s[at..at + 6]);
            at + 6
        }
        Some('x') if hex_byte(s, at).is_some() => {
            let mut bytes = Vec::new();
            let mut k = at;
            while let Some(b) = hex_byte(s, k) {
                bytes.push(b);
                k += 4;
            }
            match String::from_utf8(bytes) {
                Ok(text) => text.chars().for_each(|c| push_char(c, out)),
                Err(e) => e
                    .into_bytes()
                    .into_iter()
                    .for_each(|b| push_char(char::from(b), out)),
            }
            k
        }
        // bash's \' inside a double-quoted string is just a quote.
        Some('\'') => {
            out.push('\'');
            at + 2
        }
        // Anything else: the backslash was meant literally (a Windows path, a regex).
        _ => {
            out.push_str("\\\\");
            at + 1
        }
    }
}

/// The byte of a `\xNN` escape at `s[at]`.
fn hex_byte(s: &[char], at: usize) -> Option<u8> {
    if s.get(at) != Some(&'\\') || s.get(at + 1) != Some(&'x') {
        return None;
    }
    let hi = s.get(at + 2)?.to_digit(16)?;
    let lo = s.get(at + 3)?.to_digit(16)?;
    u8::try_from(hi * 16 + lo).ok()
}

fn push_char(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x20 => push_escaped(c, out),
        c => out.push(c),
    }
}

fn push_escaped(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{:04x}", c as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn fixed(body: &str) -> Value {
        let repaired = repair(body.as_bytes()).expect("repairable");
        serde_json::from_str(&repaired).unwrap_or_else(|e| panic!("{e}: {repaired}"))
    }

    #[test]
    fn valid_json_passes_through_unchanged() {
        let body = "{\n    \"a\": \"x\\ty\",\n    \"b\": 12,\n    \"c\": true,\n    \"d\": null\n}";
        assert_eq!(repair(body.as_bytes()).unwrap(), body);
    }

    #[test]
    fn a_number_with_a_unit_becomes_a_string_for_the_field_to_read() {
        assert_eq!(
            fixed("{\n    \"disk_size\": 32G,\n    \"x\": 1\n}"),
            json!({"disk_size": "32G", "x": 1})
        );
    }

    #[test]
    fn a_bare_word_becomes_a_string() {
        assert_eq!(
            fixed(r#"{"os_type": debian}"#),
            json!({"os_type": "debian"})
        );
    }

    #[test]
    fn an_empty_value_becomes_null() {
        assert_eq!(
            fixed("{\n    \"core_count\": ,\n    \"ram_size\": \n}"),
            json!({"core_count": null, "ram_size": null})
        );
    }

    #[test]
    fn a_trailing_comma_is_dropped() {
        assert_eq!(fixed("{\n    \"a\": 1,\n}"), json!({"a": 1}));
    }

    #[test]
    fn hex_escapes_become_characters() {
        assert_eq!(
            fixed(r#"{"e": "\x1b[31mred\x1b[0m"}"#),
            json!({"e": "\u{1b}[31mred\u{1b}[0m"})
        );
        // A UTF-8 sequence written as \xNN bytes is decoded whole.
        assert_eq!(fixed(r#"{"e": "caf\xc3\xa9"}"#), json!({"e": "café"}));
    }

    #[test]
    fn bash_quote_escape_becomes_a_quote() {
        assert_eq!(fixed(r#"{"e": "can\'t"}"#), json!({"e": "can't"}));
    }

    #[test]
    fn other_invalid_escapes_keep_a_literal_backslash() {
        assert_eq!(fixed(r#"{"e": "C:\dir \q"}"#), json!({"e": "C:\\dir \\q"}));
        assert_eq!(fixed(r#"{"e": "\u12"}"#), json!({"e": "\\u12"}));
    }

    #[test]
    fn raw_control_characters_in_strings_are_escaped() {
        assert_eq!(
            fixed("{\"e\": \"line1\nline2\ttab \u{1b}[0m\"}"),
            json!({"e": "line1\nline2\ttab \u{1b}[0m"})
        );
    }

    #[test]
    fn an_unescaped_quote_inside_a_value_is_escaped() {
        assert_eq!(
            fixed("{\n    \"error\": \"package \"foo\" not found, giving up\",\n    \"b\": 1\n}"),
            json!({"error": "package \"foo\" not found, giving up", "b": 1})
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut body = b"{\"e\": \"bad ".to_vec();
        body.push(0xff);
        body.extend_from_slice(b"\"}");
        let repaired = repair(&body).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&repaired).unwrap(),
            json!({"e": "bad \u{fffd}"})
        );
    }

    #[test]
    fn what_cannot_be_repaired_is_left_for_the_strict_parser_to_reject() {
        assert_eq!(
            repair(br#"{"a": "open"#),
            Err(RepairError::UnterminatedString)
        );
        assert!(matches!(
            repair(br#"{"a": 1 $(oops)}"#),
            Err(RepairError::BadToken(_))
        ));
        // A missing comma is not guessed at: the result is still invalid JSON.
        let r = repair(b"{\"a\": \"x\" \"b\": \"y\"}").unwrap();
        assert!(serde_json::from_str::<Value>(&r).is_err());
    }
}
