//! Values whose key says what they are: `DB_PASSWORD=x`, `"username": "x"`,
//! `MQTT_HOST=x`, `'dbpassword' => 'x'`, `psk: x`, `PlexOnlineUsername="x"`, in the
//! syntaxes that install logs print settings in: environment files and shells, INI, JSON,
//! YAML, PHP arrays, XML attributes, and `key 'value'` in messages.
//!
//! The key may carry any prefix (`PAPERLESS_DBPASS`, `home_latitude`, `encryptionKey`),
//! but must end in a word that names the kind. What the value is decides the rest: an
//! address is the address rule's, a variable (`$DB_PASS`) is no secret, `true` is no
//! host, and a system account is kept.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::gate::Open;
use super::hosts;
use super::lists;
use super::network;
use super::span::{Found, Rank};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    User,
    Host,
    Label,
}

impl Kind {
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Secret => "<secret>",
            Kind::User => "<user>",
            Kind::Host => "<host>",
            Kind::Label => "<name>",
        }
    }

    fn rank(self) -> Rank {
        match self {
            Kind::Secret => Rank::Secret,
            Kind::User => Rank::User,
            Kind::Host => Rank::Host,
            Kind::Label => Rank::Label,
        }
    }
}

/// The last word of a key, by kind. A secret's key may also end in `key` after some
/// prefix (`SECRET_KEY`, `encryptionKey`), but `key` alone names nothing in particular.
const SECRET_WORDS: &str = r"password|passwd|passphrase|pass|[a-z0-9][_.-]pwd|secret[_-]?id|secret|token|api[_-]?key|apikey|[a-z0-9][_.-]?key|psk|salt|credentials?|auth|community|claim|pw";
const USER_WORDS: &str = r"username|user_name|user|login|account|owner|identity";
const HOST_WORDS: &str = r"hostname|host|fqdn|domains?|servername|[a-z0-9]_server|endpoint|broker|addr|upstream_dns|nodename|node|upsname";
const LABEL_WORDS: &str = r"ssid|friendly_?name|device_?name|site_?name";

/// A value: triple-quoted, quoted, a list in brackets, or a word up to punctuation that
/// ends values in these syntaxes (`<` ends an XML element's). It cannot start with `<`,
/// so a placeholder is never taken for a value.
const VALUE: &str =
    r#"("""[^"\n]*"""|"[^"\n]*"|'[^'\n]*'|\[[^\]\n]*\]|[^\s'"&,;)}\]<][^\s'"&,;)}\]<]*)"#;

fn pattern(words: &str, prose: bool) -> String {
    // `token_value:` is a token's value, as `token:` is.
    let key = format!(r"[a-z0-9_.-]*(?:{words})(?:[_-]?value)?");
    // `key: value` inside a sentence is too loose for a host (`endpoint: Bind for port`),
    // but a user's or a secret's key is seldom followed by anything else.
    let prose = if prose {
        format!(r#"|\b{key}(?::[ \t]+|[ \t]+["'])"#)
    } else {
        String::new()
    };
    format!(
        r#"(?im)(?:["']{key}["'][ \t]*(?:=>|:)[ \t]*|^[ \t]*-?[ \t]*{key}[ \t]*[:=][ \t]*|(?:^|[^a-z0-9_.-]){key}[ \t]*=[ \t]*|\boption[ \t]+{key}[ \t]+{prose})"#,
    )
}

static KEYED: LazyLock<Vec<(Kind, Regex)>> = LazyLock::new(|| {
    [
        (Kind::Secret, SECRET_WORDS),
        (Kind::User, USER_WORDS),
        (Kind::Host, HOST_WORDS),
        (Kind::Label, LABEL_WORDS),
    ]
    .into_iter()
    .flat_map(|(kind, words)| {
        // A host's key is not followed by a prose `key: value` (an HTTP `Host:`
        // header is a line's start): the last form is for users and secrets only.
        let prose = matches!(kind, Kind::Secret | Kind::User);
        let keyed = format!("{}{VALUE}", pattern(words, prose));
        // An XML element, closed, so that a placeholder (`<user>`) never reads as one.
        let element = format!(r"(?i)<[a-z0-9_.-]*(?:{words})>([^<\n]+)</");
        [
            (kind, Regex::new(&keyed).expect("a valid pattern")),
            (kind, Regex::new(&element).expect("a valid pattern")),
        ]
    })
    .collect()
});

/// The rules of this module, for the gate that tells which can match (`gate.rs`).
pub(super) fn rules() -> Vec<&'static Regex> {
    KEYED
        .iter()
        .map(|(_, re)| re)
        .chain(std::iter::once(&*SPECIAL))
        .collect()
}

/// OpenWrt's UCI names a Wi-Fi key `option key`, which alone says nothing elsewhere; an
/// XML account names its user `<user><name>x</name>`.
static SPECIAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)\boption[ \t]+key[ \t]+('[^'\n]*'|"[^"\n]*"|\S+)"#,
        r"|<user>[ \t\n]*<name>([^<\n]+)</name>",
    ))
    .expect("a valid pattern")
});

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    for caps in open.captures(&SPECIAL, text) {
        if caps.get(1).is_some() {
            put(text, Kind::Secret, &caps, found);
        } else if let Some(user) = caps.get(2)
            && !lists::is_system_account(user.as_str())
        {
            found.put(user.range(), Rank::User, "<user>");
            found.learn(user.as_str(), "<user>");
        }
    }
    for (kind, re) in KEYED.iter() {
        for caps in open.captures(re, text) {
            put(text, *kind, &caps, found);
        }
    }
}

fn put(text: &str, kind: Kind, caps: &Captures<'_>, found: &mut Found) {
    let Some(m) = caps.get(1) else { return };
    // .NET's `PublicKeyToken=` names a publisher's key, which is public; `chpasswd:` at
    // a line's start is the tool speaking, not a setting.
    let key = caps[0].to_ascii_lowercase();
    let key = key.trim_start();
    if key.contains("publickeytoken")
        || ["chpasswd", "htpasswd", "smbpasswd", "gpasswd"]
            .iter()
            .any(|tool| key.starts_with(tool))
    {
        return;
    }
    let raw = m.as_str();
    let value = raw.trim_matches(['"', '\'', '‘', '’', '“', '”']);
    let lower = value.to_ascii_lowercase();
    if value.is_empty()
        || value.starts_with(['$', '%', '<', '{', '*'])
        || lists::CONTEXT.contains(&lower)
        || lists::COMMON.contains(&lower)
    {
        return;
    }
    match kind {
        Kind::Secret => super::secrets::put_value(text, Some(m), 0, found),
        Kind::User | Kind::Label => {
            let numeric = value.bytes().all(|b| b.is_ascii_digit() || b == b':');
            // `user:group` names the user first.
            let first = names(value).next().map_or(value, |(_, n)| n);
            let system = kind == Kind::User && lists::is_system_account(first);
            if numeric || system || value.contains('@') {
                return;
            }
            found.put(m.range(), kind.rank(), kind.placeholder());
            found.learn(value, kind.placeholder());
        }
        Kind::Host => {
            // A URL or an address is another rule's; a list names several hosts.
            // A URL is the URL rule's; a path (`node:internal/modules/…`) is no host.
            // A version (`"node":"v18.13.0"`) is what a program runs, not where.
            if value.contains("://")
                || value.contains('/')
                || lower.starts_with("0x")
                || crate::net::is_version(value)
            {
                return;
            }
            let offset = m.start() + raw.find(value).unwrap_or(0);
            for (at, name) in names(value) {
                if network::is_address(name) || !hosts::is_context_host(name) {
                    continue;
                }
                found.put(offset + at..offset + at + name.len(), Rank::Host, "<host>");
                found.learn(name, "<host>");
            }
        }
    }
}

/// The host names in a value: `nas`, `nas:8080`, `a.lan,b.lan`, `[a, b]`.
fn names(value: &str) -> impl Iterator<Item = (usize, &str)> {
    NAME.find_iter(value).map(|m| (m.start(), m.as_str()))
}

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?").expect("a valid pattern")
});

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn values_go_by_their_key() {
        for (text, expected) in [
            (
                "PAPERLESS_DBPASS=Pg!Kowal55 x",
                "PAPERLESS_DBPASS=<secret> x",
            ),
            (
                r#"'dbpassword' => 'Mx!4vQp9sT',"#,
                r#"'dbpassword' => <secret>,"#,
            ),
            (
                r#"password = """Kq7#mW2x""" from"#,
                "password = <secret> from",
            ),
            ("psk: Gr8berWLAN!2023", "psk: <secret>"),
            (
                r#""encryptionKey": "Qm9vbGVh""#,
                r#""encryptionKey": <secret>"#,
            ),
            (
                r#"{"network_key":[67,91,13],"pan_id":6754}"#,
                r#"{"network_key":<secret>,"pan_id":6754}"#,
            ),
            (
                "user=ingrid.w,pass=Blume#2020 0",
                "user=<user>,pass=<secret> 0",
            ),
            (
                "PHOTOPRISM_ADMIN_USER: pablo.garcia",
                "PHOTOPRISM_ADMIN_USER: <user>",
            ),
            ("username 'mkowalski'; x", "username '<user>'; x"),
            (
                r#"PlexOnlineUsername="becker.jonas""#,
                r#"PlexOnlineUsername=<user>"#,
            ),
            ("DB_HOSTNAME=nas-okonkwo\n", "DB_HOSTNAME=<host>\n"),
            (
                "osd.3 (root=default,host=pve-k-02) is down",
                "osd.3 (root=default,host=<host>) is down",
            ),
            ("SMTP_SERVER=mail-okafor", "SMTP_SERVER=<host>"),
            ("ssid=Wohnung Gruber", "ssid=<name>"),
            // What is no secret, user or host stays.
            (
                "PASSWORD=$DB_PASS user=root host=localhost uid=1000",
                "PASSWORD=$DB_PASS user=root host=localhost uid=1000",
            ),
            (
                "Server: nginx/1.22.1\nHost: github.com",
                "Server: nginx/1.22.1\nHost: github.com",
            ),
            (
                " jellyfin-server : Depends: x",
                " jellyfin-server : Depends: x",
            ),
            (
                "addr=0xc000123456 PublicKeyToken=adb9793829ddae60",
                "addr=0xc000123456 PublicKeyToken=adb9793829ddae60",
            ),
            (
                "chown: invalid user: ‘postgres:postgres’",
                "chown: invalid user: ‘postgres:postgres’",
            ),
            (
                "failed on endpoint: Bind for port 3000",
                "failed on endpoint: Bind for port 3000",
            ),
            (
                "chpasswd: (user root) failed",
                "chpasswd: (user root) failed",
            ),
            // Other syntaxes: XML, OpenWrt's UCI, output of `key:   value`.
            (
                "<hostname>fw-naka</hostname><user><name>kenji</name><password>$2y$11$tFe</password>",
                "<hostname><host></hostname><user><name><user></name><password><secret></password>",
            ),
            ("\toption key 'Apfelbaum2021'", "\toption key <secret>"),
            (
                "SecretID:         9b8c7d6e-5f4a",
                "SecretID:         <secret>",
            ),
            (
                "Node:             consul-x\nUPSNAME  : ups-b",
                "Node:             <host>\nUPSNAME  : <host>",
            ),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }
}
