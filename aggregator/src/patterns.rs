//! Error patterns: a failed run's error text with everything that differs between two
//! occurrences of the same failure masked, so that failures can be counted by cause.
//!
//! The stored text has been scrubbed already (the `scrub` crate: addresses, names and
//! secrets are placeholders such as `<host>`); what still differs between two runs that
//! failed the same way is numbers, versions, paths, hashes and quoted values. Each is
//! replaced by a mask of its kind, so that "unable to fetch libssl3_3.0.15-1_amd64.deb
//! from /var/cache/apt/archives" and the same line with another version and path are
//! one pattern. A pattern is a group like any other: it is published only when at
//! least k installations share it (crate::anonymity), and the raw text never is.
//!
//! The rules run inside ClickHouse when a day is materialised (`sql`), as RE2 regular
//! expressions. `normalise` applies the same rules with the `regex` crate, whose syntax
//! is RE2's, so that they can be read and tested here; an integration test checks that
//! both give the same patterns.

use std::sync::LazyLock;

use regex::Regex;

/// The longest pattern, in characters: the length the stored error text is cut to.
pub const MAX_CHARS: usize = schemas::parse::FREE_TEXT_MAX_CHARS;

/// (what it masks, RE2 expression, mask), applied in order: later rules see the masks
/// of earlier ones, so the most specific come first. The expressions use no
/// look-around and no back-references (RE2 has neither) and the masks contain no `\`
/// or `$`, which both engines would read as a reference.
pub const RULES: &[(&str, &str, &str)] = &[
    // The client's header repeats the exit code, which is a dimension of its own.
    ("the exit-code header", r"^\s*exit_code=\d+\s*\|\s*", ""),
    // Only the first line: after it come the log's last lines, which vary by run.
    ("what follows the first line", r"(?s)[\r\n].*", ""),
    ("quoted values", r#"'[^']*'|"[^"]*"|`[^`]*`"#, "<value>"),
    ("URLs", r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+", "<url>"),
    (
        "paths",
        r"(?:~|\.{1,2})?(?:/[^\s/:;,()\[\]{}<>]+)+/?",
        "<path>",
    ),
    (
        "hashes and ids",
        r"\b[0-9a-fA-F]{8,}\b|\b[0-9a-f]+(?:-[0-9a-f]+){4}\b",
        "<hex>",
    ),
    // Numeric segments, then suffixes such as -rc1, +dfsg or ~beta; not a file
    // extension (`.deb`), which says what failed.
    (
        "versions",
        r"v?\d+(?:[.:~+-]\d+)+(?:[-+~][a-zA-Z0-9]+)*",
        "<version>",
    ),
    ("numbers", r"\d+", "<n>"),
    ("runs of space", r"\s+", " "),
];

static COMPILED: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    RULES
        .iter()
        // Each expression is a constant a unit test compiles; one that did not would
        // be skipped here rather than take the process down.
        .filter_map(|(_, re, mask)| Regex::new(re).ok().map(|r| (r, *mask)))
        .collect()
});

/// The pattern of an error text, as `sql` computes it in ClickHouse.
pub fn normalise(text: &str) -> String {
    let mut out = text.to_owned();
    for (re, mask) in COMPILED.iter() {
        out = re.replace_all(&out, *mask).into_owned();
    }
    out.trim().chars().take(MAX_CHARS).collect()
}

/// A ClickHouse expression for the pattern of the String expression `text`.
pub fn sql(text: &str) -> String {
    let mut expr = text.to_owned();
    for (_, re, mask) in RULES {
        expr = format!(
            "replaceRegexpAll({expr}, {}, {})",
            literal(re),
            literal(mask)
        );
    }
    format!("leftUTF8(trimBoth({expr}), {MAX_CHARS})")
}

/// A ClickHouse string literal, for a query sent through `clickhouse::Client::query`:
/// that reads `?` as a bind placeholder, and `??` as one `?`.
fn literal(s: &str) -> String {
    format!(
        "'{}'",
        s.replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('?', "??")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_compiles() {
        assert_eq!(COMPILED.len(), RULES.len());
        for (_, _, mask) in RULES {
            assert!(!mask.contains('\\') && !mask.contains('$'));
        }
    }

    #[test]
    fn texts_that_differ_in_numbers_paths_and_versions_are_one_pattern() {
        let texts = [
            "exit_code=100 | E: Unable to fetch libssl3_3.0.15-1_amd64.deb from /var/cache/apt/archives",
            "exit_code=100 | E: Unable to fetch libssl3_3.0.17-2_amd64.deb from /srv/mirror/pool",
            "exit_code=1 | E: Unable to fetch libssl3_3.1.2-1_amd64.deb from /tmp/x/y.deb",
        ];
        let patterns: Vec<String> = texts.iter().map(|t| normalise(t)).collect();
        assert_eq!(
            patterns[0],
            "E: Unable to fetch libssl<n>_<version>_amd<n>.deb from <path>"
        );
        assert!(patterns.iter().all(|p| *p == patterns[0]), "{patterns:?}");
    }

    #[test]
    fn quoted_values_hashes_urls_and_placeholders() {
        assert_eq!(
            normalise("Failed to start 'immich-ml.service': unit <name>.service not found"),
            "Failed to start <value>: unit <name>.service not found"
        );
        assert_eq!(
            normalise("curl: (22) https://github.com/x/y/releases/v1.2.3 returned error: 404"),
            "curl: (<n>) <url> returned error: <n>"
        );
        assert_eq!(
            normalise("checkout of deadbeef1234 failed in container 105"),
            "checkout of <hex> failed in container <n>"
        );
        assert_eq!(
            normalise("pct create 120 failed on <host>"),
            "pct create <n> failed on <host>"
        );
    }

    #[test]
    fn only_the_first_line_counts() {
        assert_eq!(
            normalise("exit_code=2 | at line 12: npm ci\n---\nnpm ERR! 4711 lines of log"),
            "at line <n>: npm ci"
        );
    }

    #[test]
    fn patterns_are_short() {
        let long = "word ".repeat(100);
        assert_eq!(normalise(&long).chars().count(), MAX_CHARS);
    }

    #[test]
    fn the_sql_is_one_nested_expression() {
        let expr = sql("error");
        assert_eq!(expr.matches("replaceRegexpAll(").count(), RULES.len());
        assert!(expr.starts_with("leftUTF8(trimBoth(") && expr.ends_with(", 120)"));
        assert_eq!(literal(r"it's \d"), r"'it\'s \\d'");
        // The clickhouse crate's template escape for a literal `?`.
        assert_eq!(literal("(?s)"), "'(??s)'");
    }
}
