//! Removing personal data from free text before it is queued, stored or truncated.
//!
//! The ROPA promises that no IP address, MAC, e-mail address or user name is stored. The
//! free-text fields (`error`, `failed_command`, `cpu_model`, `gpu_model`) come from logs
//! and shells, so they can hold any of these. Each is replaced whole by a placeholder
//! (`<ip>`, `<mac>`, `<email>`, `<credentials>`, `<user>`), never partly masked, so
//! nothing of the original survives. ANSI colour sequences and other control characters
//! (but newlines and tabs) are dropped as noise.
//!
//! The scanners are small and explicit rather than regular expressions: each says what
//! it matches and what it leaves alone, and the tests show both.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Scrub one free-text value.
pub fn scrub(text: &str) -> String {
    let text = strip_controls(text);
    let text = url_credentials(&text);
    let text = emails(&text);
    // Before addresses: replacing a user name can only separate an address from the
    // word it was glued to, and so must come first for a second scrub to find nothing.
    let text = home_paths(&text);
    addresses(&text)
}

/// Scrub, then cut to `max` characters, until nothing changes: cutting can leave a tail
/// that reads as an address (the front of a longer hex run), and that must not survive
/// either. Each round is over at most `max` characters, and it settles in one or two.
pub fn scrub_to(text: &str, max: usize) -> String {
    let mut current = crate::parse::truncate_chars(&scrub(text), max);
    for _ in 0..8 {
        let next = crate::parse::truncate_chars(&scrub(&current), max);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// Drop ANSI escape sequences and control characters other than `\n` and `\t`.
fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in @..~
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() && c != '\n' && c != '\t' {
            continue;
        }
        out.push(c);
    }
    out
}

/// `scheme://user:password@host` → `scheme://<credentials>@host`.
fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("<credentials>");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn is_email_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// `name@example.org` → `<email>`. The domain needs a dot and a TLD of letters, so
/// `user@host` in a prompt and `pkg@1.2` in npm output are not taken for addresses.
fn emails(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices('@') {
        if at < last {
            continue;
        }
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_email_local(*c))
            .last()
            .map_or(at, |(i, _)| i);
        let domain_len = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| is_domain(*c))
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        let domain = text[at + 1..at + 1 + domain_len].trim_end_matches(['.', '-']);
        let tld_ok = domain.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        });
        if start < at && start >= last && tld_ok {
            out.push_str(&text[last..start]);
            out.push_str("<email>");
            last = at + 1 + domain.len();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// IPv4, IPv6 and MAC addresses, each replaced whole.
///
/// Candidates are maximal runs of hex digits, `.`, `:` and `-` that stand alone (not glued
/// to letters, so `std::vec` or `v1.2.3` are left alone); a run is replaced when it parses
/// as an address. Version numbers such as `8.4.14` are not four octets and stay.
fn addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts_run = (c.is_ascii_hexdigit() || c == b':') && (i == 0 || !is_word(bytes[i - 1]));
        if !starts_run {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len()
            && (bytes[end].is_ascii_hexdigit() || matches!(bytes[end], b'.' | b':' | b'-'))
        {
            end += 1;
        }
        // Punctuation at the end belongs to the sentence, not to the address.
        let mut run_end = end;
        while run_end > i && matches!(bytes[run_end - 1], b'.' | b'-') {
            run_end -= 1;
        }
        let glued = end < bytes.len() && is_word(bytes[end]);
        let run = &text[i..run_end];
        let replacement = if glued { None } else { classify(run) };
        match replacement {
            Some(placeholder) => {
                out.push_str(&text[copied..i]);
                out.push_str(placeholder);
                copied = run_end;
                i = run_end;
            }
            None => i = end.max(i + 1),
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn classify(run: &str) -> Option<&'static str> {
    if is_mac(run) {
        return Some("<mac>");
    }
    if run.parse::<Ipv4Addr>().is_ok() {
        return Some("<ip>");
    }
    // `host:port` after an IPv4 address: the address goes, the port may stay.
    if let Some((ip, port)) = run.rsplit_once(':')
        && ip.parse::<Ipv4Addr>().is_ok()
        && port.chars().all(|c| c.is_ascii_digit())
    {
        return Some("<ip>");
    }
    if run.contains(':') && run.parse::<Ipv6Addr>().is_ok() {
        // A time of day (12:34:56) is not hex groups with `::` or eight groups.
        let groups = run.split(':').count();
        if run.contains("::") || groups == 8 {
            return Some("<ip>");
        }
    }
    None
}

fn is_mac(run: &str) -> bool {
    for sep in [':', '-'] {
        let parts: Vec<&str> = run.split(sep).collect();
        if parts.len() == 6
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return true;
        }
    }
    false
}

/// `/home/alice/...` → `/home/<user>/...`, and the same for `/Users/` (and so `/var/home/`).
fn home_paths(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in ["/home/", "/Users/"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(prefix) {
            let after = pos + prefix.len();
            result.push_str(&rest[..after]);
            // A user name is letters, digits, `.`, `_` and `-`; whatever follows is not.
            let name_len = rest[after..]
                .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
                .unwrap_or(rest.len() - after);
            if name_len > 0 {
                result.push_str("<user>");
            }
            rest = &rest[after + name_len..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_addresses_go_whole_and_versions_stay() {
        assert_eq!(
            scrub("connect to 192.168.1.20 failed"),
            "connect to <ip> failed"
        );
        assert_eq!(scrub("curl 10.0.0.1:8006/api"), "curl <ip>/api");
        assert_eq!(
            scrub("pve 8.4.14 on kernel 6.8.12-4-pve"),
            "pve 8.4.14 on kernel 6.8.12-4-pve"
        );
        assert_eq!(scrub("at 203.0.113.7."), "at <ip>.");
    }

    #[test]
    fn ipv6_addresses_go_whole_and_times_and_paths_stay() {
        assert_eq!(scrub("via fe80::1c2:3ff:fe4d:5e6f dev"), "via <ip> dev");
        assert_eq!(scrub("[2001:db8::42]:443"), "[<ip>]:443");
        assert_eq!(scrub("2001:0db8:0000:0000:0000:ff00:0042:8329"), "<ip>");
        assert_eq!(
            scrub("at 12:34:56 in std::vec::Vec"),
            "at 12:34:56 in std::vec::Vec"
        );
    }

    #[test]
    fn mac_addresses_go() {
        assert_eq!(scrub("hwaddr bc:24:11:ab:cd:ef up"), "hwaddr <mac> up");
        assert_eq!(scrub("BC-24-11-AB-CD-EF"), "<mac>");
    }

    #[test]
    fn emails_go_and_lookalikes_stay() {
        assert_eq!(
            scrub("contact alice.smith+x@example.co.uk now"),
            "contact <email> now"
        );
        assert_eq!(scrub("root@pve:~# ls"), "root@pve:~# ls");
        assert_eq!(scrub("npm i left-pad@1.3.0"), "npm i left-pad@1.3.0");
    }

    #[test]
    fn url_credentials_go() {
        assert_eq!(
            scrub("git clone https://bob:s3cret@git.example.com/repo.git"),
            "git clone https://<credentials>@git.example.com/repo.git"
        );
        assert_eq!(scrub("https://example.com/a@b"), "https://example.com/a@b");
    }

    #[test]
    fn user_names_in_home_paths_go() {
        assert_eq!(
            scrub("cd /home/alice/app && make"),
            "cd /home/<user>/app && make"
        );
        assert_eq!(scrub("/Users/bob"), "/Users/<user>");
        assert_eq!(scrub("/home/"), "/home/");
    }

    #[test]
    fn ansi_colours_and_controls_are_dropped() {
        assert_eq!(
            scrub("\u{1b}[31merror\u{1b}[0m:\tfailed\u{7}\n"),
            "error:\tfailed\n"
        );
    }

    #[test]
    fn cutting_does_not_leave_an_address_behind() {
        // Ten groups are no address; cut after eight, they would be one.
        let text = "x aa:bb:cc:dd:ee:ff:aa:bb:cc:dd";
        let cut = scrub_to(text, 25);
        assert_eq!(scrub(&cut), cut);
        assert!(cut.chars().count() <= 25);
    }

    #[test]
    fn everything_at_once() {
        let s = scrub("alice@example.org from 203.0.113.7 mac 00:11:22:33:44:55 /home/alice ::1");
        for leaked in ["alice", "203.0.113.7", "00:11:22"] {
            assert!(!s.contains(leaked), "{leaked} in {s}");
        }
    }
}
