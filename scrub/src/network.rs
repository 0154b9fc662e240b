//! IP and MAC addresses, in every form a log prints them.
//!
//! Candidates are maximal runs of hex digits, `.`, `:` and `-` that are not glued to a
//! letter or digit on either side (so `std::vec`, `v1.2.3` and `eth0` are left alone, but
//! `„10.1.2.3“` or an address after a no-break space is not). A run is replaced when it
//! is an address, or split at `-` (ranges) and `:` (ports) into pieces that are.
//! Version numbers such as `8.4.14` are not four octets and stay; a four-part version
//! with every part under 256 cannot be told from an address, and goes. The loopback and
//! unspecified addresses (`127.0.0.1`, `0.0.0.0`, `::1`) stay: every host has them.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use super::span::{Found, Rank};

/// MACs that other words carry: a USB NIC's name (`enx00e04c680a2b`) and the
/// destination, source and type that a firewall log prints as one `MAC=` field.
static EMBEDDED_MAC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\benx([0-9a-f]{12})\b|\bMAC=([0-9a-f]{2}(?::[0-9a-f]{2}){5,})")
        .expect("a valid pattern")
});

pub(super) fn find(text: &str, found: &mut Found) {
    for caps in EMBEDDED_MAC.captures_iter(text) {
        if let Some(m) = caps.get(1).or_else(|| caps.get(2)) {
            found.put(m.range(), Rank::Address, "<mac>");
        }
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts_run =
            (c.is_ascii_hexdigit() || c == b':') && !glued(text[..i].chars().next_back());
        if !starts_run {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len() && is_run_byte(bytes[end]) {
            end += 1;
        }
        // Punctuation at the end belongs to the sentence, not to the address; but an
        // IPv6 prefix ends in `::` (`2a01:4f8:c17:9e2a::`).
        let mut run_end = end;
        while run_end > i && matches!(bytes[run_end - 1], b'.' | b'-' | b':') {
            run_end -= 1;
        }
        if text[run_end..end].starts_with("::") {
            run_end += 2;
        }
        // An assembly's or a package's `Version=8.0.0.0` (or `Version: `, as dpkg and
        // YAML write it) is no address, nor is a pinned requirement (`x==4.10.0.84`).
        let before = &bytes[i.saturating_sub(8)..i];
        let before9 = &bytes[i.saturating_sub(9)..i];
        // Nor is a shared library's version (`libcublasLt.so.12.4.5.8`).
        let versioned = before.eq_ignore_ascii_case(b"version=")
            || before.eq_ignore_ascii_case(b"version ")
            || before9.eq_ignore_ascii_case(b"version: ")
            || [b"==", b">=", b"<=", b"~="]
                .iter()
                .any(|op| before.ends_with(*op))
            || before.ends_with(b".so.")
            || in_library(&text[..i], &text[end..]);
        let glued_after = glued(text[end..].chars().next());
        if !versioned && !glued_after {
            classify_run(text, i..run_end, found);
        } else if !versioned
            && let Some(cut) = text[i..end].rfind([':', '-', '.'])
            && cut > 0
        {
            // Glued to a word at its end (`10.1.1.30:datastore`): what is before the
            // last separator may still be an address.
            classify_run(text, i..i + cut, found);
        }
        i = end.max(i + 1);
    }
}

/// Whether a run between `before` and `after` is an offset into a shared library as the
/// kernel reports a crash (`segfault … in libc.so.6[7f3a1c228000+155000]`).
fn in_library(before: &str, after: &str) -> bool {
    after_library(before) && after.starts_with('+')
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'-')
}

/// A letter or digit of any script, or `_`, next to a run makes it part of a word.
fn glued(neighbour: Option<char>) -> bool {
    neighbour.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn classify_run(text: &str, range: std::ops::Range<usize>, found: &mut Found) {
    let run = &text[range.clone()];
    if let Some(placeholder) = address(run) {
        found.put(range, Rank::Address, placeholder);
        return;
    }
    // A range (`10.0.0.100-10.0.0.200`) or `address:port`: the pieces that are
    // addresses go, ports and the rest stay.
    let mut offset = range.start;
    for piece in run.split(['-', ':']) {
        if let Some(placeholder) = address(piece)
            && placeholder == "<ip>"
        {
            found.put(offset..offset + piece.len(), Rank::Address, placeholder);
        }
        offset += piece.len() + 1;
    }
    // `addr:port` with an IPv6 address has more than one colon: try without the port.
    if let Some((head, port)) = run.rsplit_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && let Some(placeholder) = address(head)
    {
        found.put(
            range.start..range.start + head.len(),
            Rank::Address,
            placeholder,
        );
    }
}

/// Whether `text` is an IP or MAC address as a whole.
pub(super) fn is_address(text: &str) -> bool {
    address(text).is_some()
}

/// The placeholder for a whole run that is an address, if it is one. The loopback and
/// unspecified addresses name no machine (every host has them), and a maintainer needs
/// them: `bind() to 0.0.0.0:80 failed`, `connect to 127.0.0.1:5432 refused`.
fn address(run: &str) -> Option<&'static str> {
    // Most runs are short words and numbers: an IPv4 address, and a MAC or a fingerprint
    // written without colons, is at least seven characters long.
    if run.len() < 7 && !run.contains(':') {
        return None;
    }
    if is_mac(run) {
        return Some("<mac>");
    }
    if is_fingerprint(run) {
        return Some("<serial>");
    }
    if run == "0.0.0.0" || run.starts_with("127.") && is_ipv4(run) || matches!(run, "::" | "::1") {
        return None;
    }
    if is_ipv4(run) {
        return Some("<ip>");
    }
    if run.contains(':') && run.parse::<Ipv6Addr>().is_ok() {
        let groups = run.split(':').count();
        // A time of day (12:34:56) has neither `::` nor the full eight groups; an
        // embedded IPv4 address stands for the last two.
        let embedded_v4 = run.contains('.');
        if run.contains("::") || groups == 8 || (embedded_v4 && groups == 7) {
            return Some("<ip>");
        }
    }
    None
}

/// Four decimal octets, leading zeros allowed (`010.001.001.001` is how some tools print).
fn is_ipv4(s: &str) -> bool {
    let mut parts = 0;
    for part in s.split('.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if part.parse::<u16>().map_or(true, |n| n > 255) {
            return false;
        }
    }
    parts == 4
}

/// A key's fingerprint (SSH, TLS, Proxmox Backup Server): more hex pairs than any address
/// has, naming one machine.
fn is_fingerprint(run: &str) -> bool {
    run.len() >= 26
        && run.split(':').count() >= 9
        && run
            .split(':')
            .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `bc:24:11:ab:cd:ef`, `BC-24-11-AB-CD-EF`, `0:1a:2b:3c:4d:5e`, `bc24.11ab.cdef`, and
/// twelve bare hex digits that are not all decimal (a number, not an address).
fn is_mac(run: &str) -> bool {
    for sep in [':', '-'] {
        let mut groups = 0;
        let all_hex_pairs = run.split(sep).all(|g| {
            groups += 1;
            (1..=2).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if all_hex_pairs && groups == 6 {
            return true;
        }
    }
    if run.len() == 14
        && run.split('.').count() == 3
        && run
            .split('.')
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return true;
    }
    run.len() == 12
        && run.bytes().all(|b| b.is_ascii_hexdigit())
        && !run.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `before` ends in a shared library's name and the `[` of the place in it that
/// a crash report gives (`libc.so.6[`): what follows is an offset, not an address. The
/// vocabulary net asks the same (`net.rs`).
pub(crate) fn after_library(before: &str) -> bool {
    before.strip_suffix('[').is_some_and(|b| {
        b.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
            .ends_with(".so")
    })
}

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn ipv4_addresses_go_whole_and_versions_stay() {
        assert_eq!(
            scrub("connect to 192.168.1.20 failed"),
            "connect to <ip> failed"
        );
        assert_eq!(scrub("curl 10.0.0.1:8006/api"), "curl <ip>:8006/api");
        assert_eq!(
            scrub("pve 8.4.14 on kernel 6.8.12-4-pve"),
            "pve 8.4.14 on kernel 6.8.12-4-pve"
        );
        assert_eq!(scrub("at 203.0.113.7."), "at <ip>.");
        assert_eq!(
            scrub("ip=192.168.1.50/24,gw=192.168.1.1"),
            "ip=<ip>/24,gw=<ip>"
        );
        assert_eq!(scrub("010.001.001.001"), "<ip>");
        // Four parts under 256 that a version's context names.
        for kept in [
            "opencv-python-headless==4.10.0.84",
            "Version: 28.0.12.1",
            "numpy>=1.26.4.1",
        ] {
            assert_eq!(scrub(kept), kept);
        }
        assert_eq!(scrub("server: 28.0.12.1"), "server: <ip>");
    }

    #[test]
    fn addresses_next_to_other_scripts_punctuation_go() {
        assert_eq!(scrub("„10.1.2.3“"), "„<ip>“");
        assert_eq!(scrub("«10.1.2.3»"), "«<ip>»");
        assert_eq!(scrub("at\u{a0}10.1.2.3\u{a0}now"), "at\u{a0}<ip>\u{a0}now");
        assert_eq!(scrub("ＩＰ:10.1.2.3"), "ＩＰ:<ip>");
        // Glued to a letter of any script, a run is part of a word.
        assert_eq!(scrub("é10.1.2.3"), "é10.1.2.3");
    }

    #[test]
    fn ranges_and_ports_keep_what_is_not_an_address() {
        assert_eq!(scrub("pool 10.0.0.100-10.0.0.200"), "pool <ip>-<ip>");
        assert_eq!(scrub("[2001:db8::42]:443"), "[<ip>]:443");
        assert_eq!(scrub("at 2001:db8::42:443 x"), "at <ip> x");
        assert_eq!(scrub("prefix 2a01:4f8:c17:9e2a:: x"), "prefix <ip> x");
        assert_eq!(scrub("root@pam@10.1.1.30:store"), "root@pam@<ip>:store");
        assert_eq!(
            scrub("Version=8.0.0.0, Culture=neutral"),
            "Version=8.0.0.0, Culture=neutral"
        );
    }

    #[test]
    fn ipv6_addresses_go_whole_and_times_and_paths_stay() {
        assert_eq!(scrub("via fe80::1c2:3ff:fe4d:5e6f dev"), "via <ip> dev");
        assert_eq!(scrub("2001:0db8:0000:0000:0000:ff00:0042:8329"), "<ip>");
        assert_eq!(scrub("0:0:0:0:0:ffff:192.168.1.5"), "<ip>");
        assert_eq!(scrub("::ffff:10.9.8.7"), "<ip>");
        assert_eq!(scrub("fe80::be24:11ff:feab:cdef%eth0"), "<ip>%eth0");
        assert_eq!(
            scrub("at 12:34:56 in std::vec::Vec"),
            "at 12:34:56 in std::vec::Vec"
        );
    }

    #[test]
    fn mac_addresses_go_in_every_form() {
        assert_eq!(scrub("hwaddr bc:24:11:ab:cd:ef up"), "hwaddr <mac> up");
        assert_eq!(scrub("BC-24-11-AB-CD-EF"), "<mac>");
        assert_eq!(scrub("0:1a:2b:3c:4d:5e"), "<mac>");
        assert_eq!(scrub("port bc24.11ab.cdef up"), "port <mac> up");
        assert_eq!(scrub("mac=bc2411abcdef,"), "mac=<mac>,");
        assert_eq!(
            scrub("bridge-ports enx00e04c680a2b"),
            "bridge-ports enx<mac>"
        );
        assert_eq!(
            scrub("IN=vmbr0 MAC=bc:24:11:aa:4b:cc:dc:a6:32:11:22:33:08:00 SRC"),
            "IN=vmbr0 MAC=<mac> SRC"
        );
        assert_eq!(
            scrub("fingerprint 4e:9a:2b:7c:1d:8e:3f:60:a5:b4:c3:d2:e1:f0:09:18:27:36"),
            "fingerprint <serial>"
        );
        // Twelve decimal digits are a number.
        assert_eq!(scrub("size 123456789012"), "size 123456789012");
    }

    #[test]
    fn dates_and_version_ranges_stay() {
        for text in [
            "2025-01-15",
            "1.2.3-4.5.6",
            "2:9.0.1378-2",
            "deadbeef",
            "e.g.",
        ] {
            assert_eq!(scrub(text), text);
        }
    }
}
