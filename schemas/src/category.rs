//! The server's reading of why a run failed, from its exit code and error text.
//!
//! Clients send their own guess (`error_category`), but older clients guess coarsely or
//! not at all. The server derives one from evidence it can check; it wins unless it
//! is `unknown`, in which case the client's guess is kept.
//!
//! Exit codes are read with the client's own table, `schemas/data/exit-codes.tsv`: a
//! byte-for-byte copy of the client's own `exit-codes.tsv` (docs/client-contract.md,
//! "Exit codes and error categories"), one `code<TAB>meaning<TAB>category` line per code
//! the client's scripts use, after a header line. The project's own codes (214, "not
//! enough storage", among them) mean nothing outside it, so the table is the only place
//! their meaning and category can come from. It is kept unchanged, so
//! that a new version of the client's table can be copied over it as it is; where it gives a category the server agrees with it, and where it
//! says `unknown` or lacks a code the conventional readings below still apply.

use std::sync::LazyLock;

/// Every category a client or the server may name (docs/client-contract.md), and
/// `runtime`, which the client's exit-code table uses for Node.js and npm failures although
/// the client's own list of guesses does not name it.
pub const CATEGORIES: &[&str] = &[
    "network",
    "storage",
    "dependency",
    "permission",
    "timeout",
    "config",
    "resource",
    "apt",
    "command_not_found",
    "service",
    "database",
    "signal",
    "proxmox",
    "shell",
    "build",
    "user_aborted",
    "runtime",
    "unknown",
];

/// The client's exit-code table, as the client ships it.
const CLIENT_TABLE: &str = include_str!("../data/exit-codes.tsv");

/// The client's meaning and category of an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ClientCode {
    meaning: &'static str,
    category: &'static str,
}

/// One line of the client's table; `None` for the header and for anything malformed.
/// A unit test parses every line (and checks each category is in [`CATEGORIES`]), so
/// `None` is only ever the header; skipping rather than panicking keeps a bad copy of the
/// table from taking the ingest path down with it.
fn parse_line(line: &'static str) -> Option<(u8, ClientCode)> {
    let mut fields = line.split('\t');
    let (code, meaning, category) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some() || meaning.is_empty() || category.is_empty() {
        return None;
    }
    Some((code.parse().ok()?, ClientCode { meaning, category }))
}

/// The client's table, indexed by exit code.
static CLIENT_CODES: LazyLock<[Option<ClientCode>; 256]> = LazyLock::new(|| {
    let mut codes = [None; 256];
    for (code, entry) in CLIENT_TABLE.lines().filter_map(parse_line) {
        codes[usize::from(code)] = Some(entry);
    }
    codes
});

fn client_code(code: u8) -> Option<ClientCode> {
    CLIENT_CODES[usize::from(code)]
}

/// The client's category for an exit code, unless it has none.
fn client_category(code: u8) -> Option<&'static str> {
    client_code(code)
        .map(|c| c.category)
        .filter(|category| *category != "unknown")
}

/// Exit codes that say the cause on their own, for the codes the client's table leaves
/// `unknown` or does not list, or a later table that drops one. Where the table has a
/// category it decides, so a reading here that contradicted it would be dead code at best;
/// a test checks there is none.
fn from_exit_code(code: u8) -> Option<&'static str> {
    Some(match code {
        2 => "shell",
        6 | 7 | 35 | 56 => "network", // curl: resolve, connect, TLS, receive
        22 => "network",              // curl: HTTP error
        28 | 124 => "timeout",        // curl timeout, timeout(1)
        126 => "permission",          // found but not executable
        129 | 130 | 143 => "user_aborted", // SIGHUP, SIGINT, SIGTERM
        139 => "signal",              // SIGSEGV
        137 => "resource",            // SIGKILL: the OOM killer, in practice
        _ => return None,
    })
}

/// What an exit code means, for the public error statistics: the client's own meaning
/// for every code in its table, which is the only source for the project's own codes.
pub fn describe_exit_code(code: u8) -> Option<&'static str> {
    client_code(code)
        .map(|c| c.meaning)
        .or_else(|| conventional_meaning(code))
}

/// Every exit code that has a meaning, with its meaning and the category a failure with
/// that code and no telling error text gets: the rows of the analysts' `exit_codes`
/// table (migration 0012).
pub fn exit_codes() -> impl Iterator<Item = (u8, &'static str, &'static str)> {
    (0..=u8::MAX).filter_map(|code| {
        describe_exit_code(code).map(|meaning| (code, meaning, derive(Some(code), "")))
    })
}

/// The conventional meaning of the codes POSIX shells, signals, curl, apt and timeout(1)
/// give, for codes the client's table does not list (today only 0); other codes are
/// published without a description.
fn conventional_meaning(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "success",
        1 => "general error",
        2 => "misuse of a shell builtin",
        6 => "curl: could not resolve host",
        7 => "curl: could not connect",
        22 => "curl: HTTP error status",
        28 => "curl: operation timed out",
        35 => "curl: TLS handshake failed",
        56 => "curl: failure receiving data",
        100 => "apt/dpkg: package operation failed",
        101 => "apt: configuration error",
        124 => "timed out (timeout)",
        125 => "timeout itself failed",
        126 => "command found but not executable",
        127 => "command not found",
        128 => "invalid exit argument",
        129 => "hangup (SIGHUP)",
        130 => "interrupted by the user (SIGINT)",
        134 => "aborted (SIGABRT)",
        137 => "killed (SIGKILL), usually out of memory",
        139 => "segmentation fault (SIGSEGV)",
        141 => "broken pipe (SIGPIPE)",
        143 => "terminated (SIGTERM)",
        255 => "exit status out of range, or a fatal error",
        _ => return None,
    })
}

/// Phrases in an error text, most specific first. Matched lower-cased.
const PHRASES: &[(&str, &str)] = &[
    ("aborted by user", "user_aborted"),
    ("user aborted", "user_aborted"),
    ("cancelled by user", "user_aborted"),
    ("no space left on device", "storage"),
    ("disk quota exceeded", "storage"),
    ("read-only file system", "storage"),
    ("cannot allocate memory", "resource"),
    ("out of memory", "resource"),
    ("oom-kill", "resource"),
    ("command not found", "command_not_found"),
    ("permission denied", "permission"),
    ("operation not permitted", "permission"),
    ("temporary failure in name resolution", "network"),
    ("could not resolve", "network"),
    ("connection refused", "network"),
    ("network is unreachable", "network"),
    ("failed to connect", "network"),
    ("connection timed out", "timeout"),
    ("timed out", "timeout"),
    ("unmet dependencies", "dependency"),
    ("unable to locate package", "apt"),
    ("dpkg", "apt"),
    ("apt-get", "apt"),
    ("failed to fetch", "network"),
    ("npm err", "build"),
    ("make: ***", "build"),
    ("compilation failed", "build"),
    ("error: could not compile", "build"),
    ("failed to start", "service"),
    ("systemctl", "service"),
    ("mysql", "database"),
    ("mariadb", "database"),
    ("postgres", "database"),
    ("pct ", "proxmox"),
    ("qm ", "proxmox"),
    ("storage '", "proxmox"),
    ("invalid configuration", "config"),
    ("syntax error", "config"),
];

/// The server's category for a failed or aborted run, `unknown` when nothing tells.
///
/// The client's table decides every code it gives a category, so the server never
/// contradicts the client's own reading of its own codes. The one exception is 1, the
/// generic "general error" that most failures end with: the table files it under
/// `shell` for want of anything better, so a text that names the cause ("No space left
/// on device") is read first, and `shell` is what is left when it names none. Codes the
/// table leaves `unknown` or lacks fall through to the conventional codes and then to
/// the error text.
pub fn derive(exit_code: Option<u8>, error: &str) -> &'static str {
    let by_code = |code| client_category(code).or_else(|| from_exit_code(code));
    if let Some(code) = exit_code.filter(|c| *c != GENERIC)
        && let Some(category) = by_code(code)
    {
        return category;
    }
    let text = error.to_lowercase();
    PHRASES
        .iter()
        .find(|(phrase, _)| text.contains(phrase))
        .map(|(_, category)| *category)
        .or_else(|| exit_code.and_then(by_code))
        .unwrap_or("unknown")
}

/// The exit code of a failure that says nothing more: `exit 1`, `false`, a failed `[`.
const GENERIC: u8 = 1;

/// Whether an error text says the user aborted the run.
pub fn says_user_aborted(error: &str) -> bool {
    let text = error.to_lowercase();
    PHRASES
        .iter()
        .take_while(|(_, c)| *c == "user_aborted")
        .any(|(phrase, _)| text.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's data lines, each parsed; a malformed line fails the test that asks.
    fn table() -> Vec<(u8, ClientCode)> {
        CLIENT_TABLE
            .lines()
            .skip(1)
            .map(|line| parse_line(line).unwrap_or_else(|| panic!("malformed: {line:?}")))
            .collect()
    }

    #[test]
    fn every_line_of_the_clients_table_parses() {
        assert_eq!(CLIENT_TABLE.lines().next(), Some("code\tmeaning\tcategory"));
        assert_eq!(parse_line("code\tmeaning\tcategory"), None);
        let table = table();
        assert_eq!(table.len(), 162);
        for (code, entry) in &table {
            assert!(
                CATEGORIES.contains(&entry.category),
                "{code}: {} is not a known category",
                entry.category
            );
        }
        // A repeated code would overwrite an earlier line and leave fewer entries.
        assert_eq!(CLIENT_CODES.iter().flatten().count(), 162);
    }

    #[test]
    fn the_server_agrees_with_the_clients_table_where_it_has_a_category() {
        let mut categorised = 0;
        for (code, entry) in table() {
            if entry.category != "unknown" {
                categorised += 1;
                assert_eq!(derive(Some(code), ""), entry.category, "exit {code}");
                if code != GENERIC {
                    assert_eq!(derive(Some(code), "permission denied"), entry.category);
                }
            }
        }
        assert_eq!(categorised, 74);
    }

    #[test]
    fn the_conventional_codes_never_contradict_the_table() {
        for code in 0..=255u8 {
            if let (Some(table), Some(conventional)) = (client_category(code), from_exit_code(code))
            {
                assert_eq!(conventional, table, "exit {code}");
            }
        }
    }

    #[test]
    fn codes_the_table_leaves_unknown_keep_the_conventional_reading() {
        assert_eq!(client_code(56).map(|c| c.category), Some("unknown"));
        assert_eq!(derive(Some(56), ""), "network");
        // 3 is `unknown` in the table and has no conventional reading: the text decides.
        assert_eq!(derive(Some(3), "No space left on device"), "storage");
        assert_eq!(derive(Some(3), ""), "unknown");
        // Absent from the table.
        assert_eq!(client_code(9), None);
        assert_eq!(derive(Some(9), "connection refused"), "network");
    }

    #[test]
    fn every_code_in_the_table_is_described_as_the_client_describes_it() {
        for (code, entry) in table() {
            assert_eq!(describe_exit_code(code), Some(entry.meaning));
        }
    }

    #[test]
    fn codes_the_table_lacks_keep_their_conventional_meaning() {
        assert_eq!(client_code(0), None);
        assert_eq!(describe_exit_code(0), Some("success"));
        // The fallback is kept whole for a table that drops a code; today the table
        // describes these itself.
        assert_eq!(
            conventional_meaning(130),
            Some("interrupted by the user (SIGINT)")
        );
        assert_eq!(
            conventional_meaning(137),
            Some("killed (SIGKILL), usually out of memory")
        );
        assert_eq!(describe_exit_code(9), None);
    }

    #[test]
    fn the_projects_own_codes_are_described_and_categorised() {
        assert_eq!(
            describe_exit_code(214),
            Some("Proxmox: Not enough storage space")
        );
        assert_eq!(derive(Some(214), ""), "storage");
        assert_eq!(derive(Some(170), ""), "database");
        assert_eq!(derive(Some(243), ""), "runtime");
    }

    #[test]
    fn exit_codes_decide_when_they_can() {
        // The client's table: 127 and apt's 100 are `dependency` there.
        assert_eq!(derive(Some(127), "whatever"), "dependency");
        assert_eq!(derive(Some(100), ""), "dependency");
        assert_eq!(derive(Some(134), ""), "resource");
        assert_eq!(derive(Some(130), ""), "user_aborted");
        // The generic 1 is `shell` in the table, unless the text names a cause.
        assert_eq!(derive(Some(1), "E: No space left on device"), "storage");
        assert_eq!(derive(Some(1), "something odd"), "shell");
    }

    #[test]
    fn otherwise_the_text_decides() {
        assert_eq!(derive(None, "E: No space left on device"), "storage");
        assert_eq!(
            derive(Some(3), "curl: (6) Could not resolve host"),
            "network"
        );
        assert_eq!(derive(None, "Installation aborted by user"), "user_aborted");
        assert_eq!(derive(None, "something odd"), "unknown");
    }

    #[test]
    fn every_derived_category_is_a_known_one() {
        for code in 0..=255u8 {
            assert!(CATEGORIES.contains(&derive(Some(code), "")));
        }
        assert!(PHRASES.iter().all(|(_, c)| CATEGORIES.contains(c)));
    }

    #[test]
    fn user_abort_phrases() {
        assert!(says_user_aborted("Script ABORTED BY USER"));
        assert!(!says_user_aborted("permission denied"));
    }
}
