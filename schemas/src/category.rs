//! The server's reading of why a run failed, from its exit code and error text.
//!
//! Clients send their own guess (`error_category`), but older clients guess coarsely or
//! not at all. The server derives one from evidence it can check; it wins unless it
//! is `unknown`, in which case the client's guess is kept.

/// Every category a client or the server may name (client-contract.md).
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
    "unknown",
];

/// Exit codes that say the cause on their own.
fn from_exit_code(code: u8) -> Option<&'static str> {
    Some(match code {
        2 => "shell",
        6 | 7 | 35 | 56 => "network", // curl: resolve, connect, TLS, receive
        22 => "network",              // curl: HTTP error
        28 | 124 => "timeout",        // curl timeout, timeout(1)
        100 | 101 => "apt",           // apt-get / dpkg
        126 => "permission",          // found but not executable
        127 => "command_not_found",
        129 | 130 | 143 => "user_aborted", // SIGHUP, SIGINT, SIGTERM
        134 | 139 => "signal",             // SIGABRT, SIGSEGV
        137 => "resource",                 // SIGKILL: the OOM killer, in practice
        _ => return None,
    })
}

/// What an exit code usually means, for the public error statistics. Only the codes
/// whose meaning is conventional (POSIX shells, signals, curl, apt, timeout(1)) are
/// described; a script's own codes are published without a description.
pub fn describe_exit_code(code: u8) -> Option<&'static str> {
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
pub fn derive(exit_code: Option<u8>, error: &str) -> &'static str {
    if let Some(category) = exit_code.and_then(from_exit_code) {
        return category;
    }
    let text = error.to_lowercase();
    PHRASES
        .iter()
        .find(|(phrase, _)| text.contains(phrase))
        .map_or("unknown", |(_, category)| category)
}

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

    #[test]
    fn exit_codes_decide_when_they_can() {
        assert_eq!(derive(Some(127), "whatever"), "command_not_found");
        assert_eq!(derive(Some(100), ""), "apt");
        assert_eq!(derive(Some(130), ""), "user_aborted");
    }

    #[test]
    fn otherwise_the_text_decides() {
        assert_eq!(derive(Some(1), "E: No space left on device"), "storage");
        assert_eq!(
            derive(Some(1), "curl: (6) Could not resolve host"),
            "network"
        );
        assert_eq!(derive(None, "Installation aborted by user"), "user_aborted");
        assert_eq!(derive(Some(1), "something odd"), "unknown");
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
