//! Cutting text to a length, shared by the parser and the scrubber.

/// Cut to at most `max` characters, never inside a UTF-8 sequence.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((byte, _)) => s[..byte].to_owned(),
        None => s.to_owned(),
    }
}
