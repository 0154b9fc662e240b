//! Secrets: passwords, tokens and keys that a failing command line carries.
//!
//! They come in three forms, each with its rule:
//! - **the value of something that says it is secret**: a password option (`-password X`,
//!   `--password=X`, mysql's `-pX`, `sshpass -p X`), an assignment (`PASSWORD=`,
//!   `*_TOKEN=`, `*_SECRET=`, `*_KEY=`, `"password": "X"`), a header (`Authorization:`,
//!   `Bearer X`, `X-Api-Key:`), SQL (`IDENTIFIED BY 'X'`), `user:X | chpasswd`;
//! - **a well-known token shape**: GitHub, GitLab, AWS, Slack, Stripe, Google, npm, PyPI,
//!   Docker Hub, Hugging Face and Tailscale tokens, JWTs, PEM private keys, SSH keys,
//!   Proxmox VE API tokens;
//! - **a long opaque run**: 32 or more hex digits, or 32 or more base64 characters that
//!   mix upper case, lower case and digits with a secret's entropy. Content digests
//!   (`sha256:…`) are public and stay.
//!
//! Only the value goes; the option or key stays, so that the error still reads.

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::lists;
use super::span::{Found, Rank};

const SECRET: &str = "<secret>";

/// A secret value as written after an option: quoted, or up to the next blank.
macro_rules! option_value {
    () => {
        r#"('[^'\n]*'|"[^"\n]*"|[^\s'"]+)"#
    };
}
/// Words that make a key or an option secret.
macro_rules! secret_word {
    () => {
        r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key|credentials?)"
    };
}

static ECHOED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:echo|printf)[ \t]+(?:-[ne]+[ \t]+)?('[^'\n]*'|"[^"\n]*"|[^\s'"|;)]+)"#)
        .expect("a valid pattern")
});

/// The rules that apply to one word on its own: token shapes and opaque runs.
pub(super) fn find_in_word(text: &str, found: &mut Found) {
    if text.len() < 20 {
        return;
    }
    for m in TOKEN_SHAPES.find_iter(text) {
        found.put(m.range(), Rank::Secret, SECRET);
    }
    opaque_runs(text, found);
}

rules! {
    OPTION = {
        Regex::new(concat!(
            r#"(?i)(?:^|[\s"'(;|&])--?[a-z-]*(?:"#,
            secret_word!(),
            r"|pass|pwd|pw|psk|setup-?key|auth-?key)(?:=|[ \t]+)",
            option_value!()
        ))
        .expect("a valid pattern")
    };

    /// Headers whose value is a credential; the scheme (`Bearer`, `Basic`, `token`) stays.
    HEADER = {
        Regex::new(concat!(
            r"(?i)\b(?:(?:proxy-)?authorization[ \t]*:[ \t]*(?:(?:bearer|basic|token|digest|negotiate|apikey|pveapitoken)[ \t=]+)?",
            r"|x-[a-z0-9-]*(?:key|token|secret|auth)[a-z0-9-]*[ \t]*:[ \t]*",
            r"|(?:private-token|api-key|cookie|set-cookie)[ \t]*:[ \t]*",
            r")",
            option_value!()
        ))
        .expect("a valid pattern")
    };

    SSHPASS = {
        Regex::new(concat!(r"\bsshpass[ \t]+-p[ \t]*", option_value!())).expect("a valid pattern")
    };

    /// SQL that sets a password.
    SQL = {
        Regex::new(
            r#"(?i)\b(?:identified[ \t]+(?:with[ \t]+\w+[ \t]+)?by(?:[ \t]+password)?|password(?:[ \t]*=[ \t]*(?:password[ \t]*\()?|[ \t]*\(|[ \t]+))[ \t]*('[^'\n]*'|"[^"\n]*")"#,
        )
        .expect("a valid pattern")
    };

    /// Configuration lines of the form `password secret` (msmtp, netrc, fetchmail), and
    /// netrc's `login x password y` on one line.
    CONFIG_LINE = {
        Regex::new(concat!(
            // Redis's `requirepass` and `masterauth` say what they are wherever they stand.
            r"(?im)(?:(?:^[ \t]*|\blogin[ \t]+\S+[ \t]+)(?:password|passwd|passphrase)|\b(?:requirepass|masterauth))[ \t]+",
            r#"('[^'\n]*'|"[^"\n]*"|[^\s'"=:][^\s'"]*)"#
        ))
        .expect("a valid pattern")
    };

    /// An SNMP community is its password: `snmpwalk -c x`, `rocommunity x`.
    SNMP_COMMUNITY = {
        Regex::new(concat!(
            r"(?i)(?:\bsnmp[a-z]*\b[^\n]*?[ \t]-c[ \t]*|\b(?:ro|rw)?community6?[ \t]+)",
            option_value!()
        ))
        .expect("a valid pattern")
    };

    /// NetworkManager's Wi-Fi key: `nmcli dev wifi connect x password KEY`,
    /// `wifi-sec.psk KEY`.
    NMCLI_KEY = {
        Regex::new(concat!(
            r"\bnmcli\b[^\n]*?[ \t](?:password|wifi-sec\.psk|802-11-wireless-security\.psk)[ \t]+",
            r#"('[^'\n]*'|"[^"\n]*"|[^\s'"][^\s'"]*)"#
        ))
        .expect("a valid pattern")
    };

    /// A `.pgpass` line, `host:port:database:user:password`.
    PGPASS = {
        Regex::new(r"(?m)^[ \t]*[^:\s]+:(?:\d+|\*):[^:\s]+:([^:\s]+):(\S+)[ \t]*$")
            .expect("a valid pattern")
    };

    /// What is echoed into a password tool: `(echo 'x'; echo 'x') | smbpasswd -s -a u`.
    PASSWD_PIPE = {
        Regex::new(r"\|[ \t]*(?:sudo[ \t]+)?(?:smbpasswd|passwd|pdbedit|htpasswd|vncpasswd)\b")
            .expect("a valid pattern")
    };

    /// MongoDB's clients take the password after `-p` with a space.
    MONGO_PASSWORD = {
        Regex::new(concat!(
            r"\b(?:mongosh|mongo|mongodump|mongorestore|mongoexport|mongoimport)\b[^\n]*?[ \t](?:-p|--password)(?:=|[ \t]+)",
            r#"('[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#
        ))
        .expect("a valid pattern")
    };

    /// An app password of four groups of four letters after a mail login
    /// (`user@gmail.com:abcd efgh ijkl mnop`, as SASL password maps hold them).
    APP_PASSWORD = {
        Regex::new(r"@[^\s:@]+:[ \t]*([a-z]{4}(?: [a-z]{4}){3})\b").expect("a valid pattern")
    };

    /// `Bearer <token>` without a header before it.
    BEARER = {
        Regex::new(r"(?i)\bbearer[ \t]+([A-Za-z0-9._~+/=-]{12,})").expect("a valid pattern")
    };

    /// A password's hash is as good as the password to whoever holds a wordlist, and names
    /// its user: `user:$apr1$…` (htpasswd, traefik doubles the `$`), `user $2a$14$…` (Caddy).
    CRYPT_HASH = {
        Regex::new(r"(?:([A-Za-z_][A-Za-z0-9_.-]*)(?::|[ \t]+))?(\$\$?(?:apr1|2[abxy]|1|5|6|y|argon2[a-z]*)\$\$?[^\s\x22',<]+)")
            .expect("a valid pattern")
    };

    LDAP_PASSWORD = {
        Regex::new(concat!(r"(?:^|\s)-w[ \t]*", option_value!())).expect("a valid pattern")
    };

    /// The password of a login command: `docker login -u x -p secret`.
    LOGIN_PASSWORD = {
        Regex::new(concat!(r"\blogin\b[^\n]*?[ \t]-p[ \t]*", option_value!())).expect("a valid pattern")
    };

    /// mysql's `-pSecret`: the password glued to the option.
    MYSQL_PASSWORD = {
        Regex::new(r#"(?:^|\s)-p('[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#).expect("a valid pattern")
    };

    PRIVATE_KEY = {
        Regex::new(
            r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
        )
        .expect("a valid pattern")
    };

    /// `Password: x` in prose: what a script echoes after generating one.
    PROSE = {
        Regex::new(concat!(
            r"(?i)\b(?:password|passwort|passphrase|secret|api[ _-]?key|token)[ \t]*:[ \t]+",
            option_value!()
        ))
        .expect("a valid pattern")
    };

    /// Proxmox VE API tokens: `PVEAPIToken=user@realm!id=<uuid>`, and the secret alone.
    PVE_TOKEN = {
        Regex::new(
            r"(?i)![A-Za-z0-9._-]+=([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        )
        .expect("a valid pattern")
    };

    /// An SSH public key and its comment (`user@laptop`).
    SSH_KEY = {
        Regex::new(r"\b(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com)[ \t]+(AAAA[0-9A-Za-z+/]+={0,3})(?:[ \t]+([^\s'\x22]+))?")
            .expect("a valid pattern")
    };

    TOKEN_SHAPES = {
        Regex::new(concat!(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}",
            r"|github_pat_[A-Za-z0-9_]{30,}",
            r"|glpat-[A-Za-z0-9_-]{20,}",
            r"|(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}",
            r"|xox[abposr]-[A-Za-z0-9-]{10,}",
            r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
            r"|sk-[A-Za-z0-9_-]{20,}",
            r"|AIza[0-9A-Za-z_-]{35}",
            r"|npm_[A-Za-z0-9]{36}",
            r"|pypi-[A-Za-z0-9_-]{40,}",
            r"|dckr_pat_[A-Za-z0-9_-]{20,}",
            r"|hf_[A-Za-z0-9]{30,}",
            r"|tskey-[A-Za-z0-9-]{20,}",
            r"|claim-[A-Za-z0-9_-]{16,}",
            r"|gl(?:c|sa)_[A-Za-z0-9+/=_-]{20,}",
            r"|SHA256:[A-Za-z0-9+/]{43}\b",
            r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
            r")"
        ))
        .expect("a valid pattern")
    };

    USER_PASSWORD = {
        Regex::new(r#"(?:^|[\s"'])([A-Za-z_][A-Za-z0-9_.-]*):([^\s"'|:]+)"#).expect("a valid pattern")
    };

    /// Webhook URLs carry their secret in the path: `/api/webhooks/<id>/<token>`.
    WEBHOOK = {
        Regex::new(concat!(
            r"(?i)(?:/(?:webhooks?|hooks|services)/|\bntfy\.sh/|\btopic[ \t]*[=:][ \t]*)",
            r"([A-Za-z0-9_-]{6,})(?:/([A-Za-z0-9_-]{6,}))?(?:/([A-Za-z0-9_-]{6,}))?"
        ))
        .expect("a valid pattern")
    };

    /// `user:password` fed to chpasswd.
    CHPASSWD_LINE = Regex::new(r"\bchpasswd\b").expect("a valid pattern");

    /// ldapsearch and friends take the bind password after `-w`.
    LDAP_LINE = Regex::new(r"\bldap[a-z]*\b").expect("a valid pattern");

    MYSQL_LINE = {
        Regex::new(r"\b(?:mysql|mariadb|mysqldump|mariadb-dump|mysqladmin|mariadb-admin|mysqlcheck|mysqlimport|mysqlshow)\b")
            .expect("a valid pattern")
    };

    /// A login and its password on one line: `user x password y` (msmtp), netrc.
    LINE_LOGIN = {
        Regex::new(concat!(
            r"(?i)\b(?:user|username|login)[ \t]+([A-Za-z0-9_.-]+)[ \t]+(?:password|passwd)[ \t]+",
            option_value!()
        ))
        .expect("a valid pattern")
    };

    /// NUT's `MONITOR ups@host 1 user password primary`.
    UPS_LOGIN = {
        Regex::new(r"\bMONITOR[ \t]+\S+[ \t]+\d+[ \t]+(\S+)[ \t]+(\S+)").expect("a valid pattern")
    };

    /// Samba's `-U user%password`.
    SAMBA_LOGIN = {
        Regex::new(r#"(?:^|\s)-U[ \t]*['"]?([A-Za-z0-9_.\\-]+)%([^\s'"]+)"#).expect("a valid pattern")
    };

    /// A command that takes a user with `-u`/`-U` takes its password with `-p`/`-P`
    /// (ipmitool, racadm, zmupdate, mysql-alikes, agent-auth): the pair gives both away.
    USER_THEN_PASSWORD = {
        Regex::new(concat!(
            r"(?:^|\s)-[uUAmHhr][ \t]*([A-Za-z0-9_.\\-]+)[^\n|;&]*?[ \t]-[pP][ \t]*",
            r#"('[^'\n]*'|"[^"\n]*"|[^\s'"-][^\s'"]*)"#
        ))
        .expect("a valid pattern")
    };

    /// `redis-cli -a password`, HAProxy's `stats auth user:password`, a `.pgpass` line
    /// (`host:port:db:user:password`), MinIO's `mc alias set name url user password`.
    OTHER_LOGINS = {
        Regex::new(concat!(
            r#"(?:\bredis-cli\b[^\n]*?[ \t]-a[ \t]*()('[^'\n]*'|"[^"\n]*"|\S+)"#,
            r"|\bstats[ \t]+auth[ \t]+([^\s:]+):(\S+)",
            r"|\b[A-Za-z0-9.-]+:(?:\d+|\*):[^\s:]+:([^\s:]+):(\S+)",
            r#"|\bmc[ \t]+alias[ \t]+set[ \t]+\S+[ \t]+\S+[ \t]+(\S+)[ \t]+('[^'\n]*'|"[^"\n]*"|\S+))"#,
        ))
        .expect("a valid pattern")
    };

    /// Ids that let whoever holds them join or enrol: a ZeroTier network id, an enrolment
    /// key, an API key printed after its owner (`API key for 'x': …`).
    JOIN_KEYS = {
        Regex::new(concat!(
            r"\b(?:join|leave|listnetworks|set)[ \t]+([0-9a-f]{16})\b",
            r"|\benroll[ \t]+([A-Za-z0-9_-]{16,})",
            r#"|(?i:\bkey) for ["'][^"'\n]+["']:[ \t]*(\S+)"#,
        ))
        .expect("a valid pattern")
    };

    /// `htpasswd -b file user password` (`-c` and other flags beside `-b`, in any order), and
    /// mosquitto_passwd, which takes them the same way.
    HTPASSWD = {
        Regex::new(
            r"\b(?:htpasswd|mosquitto_passwd)(?:[ \t]+-\w+)*?[ \t]+-\w*b\w*(?:[ \t]+-\w+)*[ \t]+\S+[ \t]+(\S+)[ \t]+(\S+)",
        )
        .expect("a valid pattern")
    };

    /// `curl -u user:password`, `--user user:password`.
    CURL_USER = {
        Regex::new(r#"(?:^|\s)(?:-u|--user|--proxy-user)(?:=|[ \t]*)["']?([^\s:'"]+):([^\s'"]+)"#)
            .expect("a valid pattern")
    };
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    for re in [
        &*OPTION,
        &*HEADER,
        &*SSHPASS,
        &*SQL,
        &*CONFIG_LINE,
        &*SNMP_COMMUNITY,
        &*NMCLI_KEY,
        &*MONGO_PASSWORD,
    ] {
        for caps in open.captures(re, text) {
            put_value(text, caps.get(1), 0, found);
        }
    }
    for caps in open.captures(&BEARER, text) {
        put_value(text, caps.get(1), 0, found);
    }
    for caps in open.captures(&PROSE, text) {
        let answer = |m: &regex::Match<'_>| {
            m.as_str()
                .trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase()
        };
        if let Some(m) = caps.get(1)
            && !matches!(answer(&m).as_str(), "yes" | "no" | "")
        {
            put_value(text, Some(m), 0, found);
        }
    }
    for caps in open.captures(&WEBHOOK, text) {
        // A `hooks` directory of the file system holds scripts; a webhook's path, an ntfy
        // topic and a service's path are never excused.
        if caps.get(0).is_some_and(|m| {
            m.as_str().to_ascii_lowercase().starts_with("/hooks/")
                && in_a_file_path(&text[..m.start()])
        }) {
            continue;
        }
        for group in 1..=3 {
            put_value(text, caps.get(group), 0, found);
        }
    }
    for (at, line) in open.lines(&MYSQL_LINE, text) {
        for caps in MYSQL_PASSWORD.captures_iter(line) {
            put_value(line, caps.get(1), at, found);
        }
    }
    for caps in open.captures(&PGPASS, text) {
        put_user(caps.get(1).filter(|u| u.as_str() != "*"), 0, found);
        put_value(text, caps.get(2), 0, found);
    }
    for (at, line) in open.lines(&PASSWD_PIPE, text) {
        for caps in ECHOED.captures_iter(line) {
            put_value(line, caps.get(1), at, found);
        }
    }
    for (at, line) in open.lines(&CHPASSWD_LINE, text) {
        for caps in USER_PASSWORD.captures_iter(line) {
            put_user(caps.get(1), at, found);
            put_value(line, caps.get(2), at, found);
        }
    }
    for caps in open.captures(&LOGIN_PASSWORD, text) {
        put_value(text, caps.get(1), 0, found);
    }
    for caps in open.captures(&CRYPT_HASH, text) {
        // The word before a hash is its user, unless it is the key that says what the
        // hash is (`password: $2y$…`).
        if let Some(user) = caps.get(1)
            && !user.as_str().to_ascii_lowercase().contains("pass")
            && !user.as_str().to_ascii_lowercase().contains("hash")
        {
            put_user(Some(user), 0, found);
        }
        if let Some(hash) = caps.get(2) {
            found.put(hash.range(), Rank::Secret, SECRET);
        }
    }
    for re in [&*LINE_LOGIN, &*UPS_LOGIN, &*SAMBA_LOGIN] {
        for caps in open.captures(re, text) {
            put_user(caps.get(1), 0, found);
            put_value(text, caps.get(2), 0, found);
        }
    }
    for caps in open.captures(&USER_THEN_PASSWORD, text) {
        // The option before the password names the user (`-u`) or the host it logs in to.
        let option = caps.get(0).map_or("", |m| m.as_str().trim_start());
        if option.starts_with("-u") || option.starts_with("-U") {
            put_user(caps.get(1), 0, found);
        }
        // A port mapping (`docker run -u 1000 -p 8080:80`) is no password.
        if let Some(v) = caps.get(2)
            && !v.as_str().bytes().all(|b| b.is_ascii_digit() || b == b':')
        {
            put_value(text, Some(v), 0, found);
        }
    }
    for caps in open.captures(&JOIN_KEYS, text) {
        put_value(text, (1..=3).find_map(|g| caps.get(g)), 0, found);
    }
    for caps in open.captures(&OTHER_LOGINS, text) {
        for (user, secret) in [(1, 2), (3, 4), (5, 6), (7, 8)] {
            if caps.get(secret).is_some() {
                put_user(caps.get(user).filter(|u| !u.is_empty()), 0, found);
                put_value(text, caps.get(secret), 0, found);
            }
        }
    }
    for (at, line) in open.lines(&LDAP_LINE, text) {
        for caps in LDAP_PASSWORD.captures_iter(line) {
            put_value(line, caps.get(1), at, found);
        }
    }
    for caps in open.captures(&APP_PASSWORD, text) {
        put_value(text, caps.get(1), 0, found);
    }
    for re in [&*HTPASSWD, &*CURL_USER] {
        for caps in open.captures(re, text) {
            put_user(caps.get(1), 0, found);
            put_value(text, caps.get(2), 0, found);
        }
    }
    for m in open.find(&TOKEN_SHAPES, text) {
        found.put(m.range(), Rank::Secret, SECRET);
    }
    for m in open.find(&PRIVATE_KEY, text) {
        found.put(m.range(), Rank::Secret, SECRET);
    }
    for caps in open.captures(&SSH_KEY, text) {
        put_value(text, caps.get(1), 0, found);
        // The comment is the key's owner and machine: `edvard@laptop-edvard`.
        if let Some(comment) = caps.get(2) {
            put_user(Some(comment), 0, found);
            for part in comment.as_str().split('@') {
                let part = part.trim_matches(|c: char| !c.is_alphanumeric());
                if !part.is_empty() && !lists::is_system_account(part) {
                    found.learn(part, "<user>");
                }
            }
        }
    }
    for caps in open.captures(&PVE_TOKEN, text) {
        put_value(text, caps.get(1), 0, found);
    }
    opaque_runs(text, found);
}

/// `m` of `src` (at `offset` in the text) is a secret value. What the shell glues to it
/// is part of it: a quote or an `&` or `;` in a password splits it (`'Fels'Gr@nit3'`,
/// `Mohn&Weizen7`), and the tail is printed alone where the shell ran it as a command or
/// SQL quoted it.
pub(super) fn put_value(src: &str, m: Option<regex::Match<'_>>, offset: usize, found: &mut Found) {
    let Some(m) = m else { return };
    // A command's end (`;`) or a list's comma after a bare value is not part of it.
    let end = if m.as_str().starts_with(['\'', '"']) {
        m.end()
    } else {
        m.start() + m.as_str().trim_end_matches([';', ',']).len()
    };
    let value = &src[m.start()..end];
    let unquoted = value.trim_matches(['\'', '"']);
    // A variable stands for the secret but is not one, and an empty value hides nothing.
    if unquoted.is_empty()
        || unquoted.starts_with('$')
        || super::PLACEHOLDERS.iter().any(|p| unquoted.starts_with(p))
    {
        return;
    }
    let value_end = end;
    let end = glued_end(src, value_end, value.ends_with(['\'', '"']));
    found.put(offset + m.start()..offset + end, Rank::Secret, SECRET);
    // A secret is often printed twice: set in one line, echoed in another.
    if unquoted.chars().count() >= 6 {
        found.learn(unquoted, SECRET);
    }
    let tail = &src[value_end..end];
    for piece in unquoted
        .split(['&', ';', '|'])
        .skip(1)
        .chain(tail.split(['&', ';', '|', '\'', '"']))
    {
        if piece.chars().count() >= 4 && !piece.starts_with('$') {
            found.learn(piece, SECRET);
        }
    }
}

/// The next parameter of a query or a list of settings (`&page=2`), which no password
/// runs on into.
static ASSIGNMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_.-]*=").expect("a valid pattern"));

/// Where a value glued to what follows it ends: at the next space, after a quote or an
/// `&` or `;` that is directly followed by more of it.
fn glued_end(src: &str, end: usize, quoted: bool) -> usize {
    let rest = &src[end..];
    let more = |s: &str| s.starts_with(|c: char| c.is_alphanumeric() || "@#%!*+=.-_".contains(c));
    // After a closing quote, more of the word; or a quote, `&` or `;` and more.
    let skip = if quoted && more(rest) {
        0
    } else if rest.len() > 1
        && rest.starts_with(['\'', '"', '&', ';'])
        && more(&rest[1..])
        && !ASSIGNMENT.is_match(&rest[1..])
    {
        1
    } else {
        return end;
    };
    let run = rest
        .char_indices()
        .skip(skip)
        .find(|&(_, c)| c.is_whitespace() || matches!(c, ';' | ',' | ')' | '`'))
        .map_or(rest.len(), |(i, _)| i);
    end + run
}

fn put_user(m: Option<regex::Match<'_>>, offset: usize, found: &mut Found) {
    let Some(m) = m else { return };
    let name = m.as_str();
    if lists::is_system_account(name) || super::is_placeholder(name) || name.starts_with('$') {
        return;
    }
    found.put(offset + m.start()..offset + m.end(), Rank::User, "<user>");
    found.learn(name, "<user>");
}

fn is_run_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

/// Long runs that look like keys. Runs glued to a letter of another script are words.
fn opaque_runs(text: &str, found: &mut Found) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !is_run_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_run_byte(bytes[i]) {
            i += 1;
        }
        if i - start >= 32 {
            opaque_pieces(text, start, i, found);
        }
    }
}

/// A run is judged by its pieces: `/` separates path segments, and `=` inside a run
/// separates a key from its value (`NODE_OPTIONS=--max-old-space-size=4096`); base64
/// has `=` only at its end.
fn opaque_pieces(text: &str, start: usize, end: usize, found: &mut Found) {
    let run = &text[start..end];
    let mut at = start;
    for segment in run.split('/') {
        let mut inner = at;
        let trimmed = segment.trim_end_matches('=');
        for piece in trimmed.split('=') {
            if is_opaque(text, inner, piece) {
                // Padding belongs to the secret.
                let padded = if inner + piece.len() == at + trimmed.len() {
                    segment.len() - (inner - at)
                } else {
                    piece.len()
                };
                found.put(inner..inner + padded, Rank::Secret, SECRET);
            }
            inner += piece.len() + 1;
        }
        at += segment.len() + 1;
    }
    // A key that holds `/` (base64) has no piece of words: judge it whole.
    if run.contains('/') && !run.starts_with('/') && !run.contains("//") {
        let core = run.trim_end_matches('=');
        let wordy = core
            .split('/')
            .any(|p| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        if !wordy && !core.contains('=') && is_opaque(text, start, core) {
            found.put(start..end, Rank::Secret, SECRET);
        }
    }
}

fn is_opaque(text: &str, start: usize, piece: &str) -> bool {
    let core = piece.trim_matches(['-', '_', '+']);
    if core.len() < 32 {
        return false;
    }
    if core.bytes().all(|b| b.is_ascii_hexdigit()) {
        // A content digest names public content, not a secret: on a line that says it
        // is one (`sha256:`, `Expected sha256 …`, `checksum`, a commit), or as a path
        // segment of public infrastructure (`files.pythonhosted.org/…/<hash>/…`).
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let before = text[line_start..start].to_ascii_lowercase();
        let line = before.as_str();
        let digest =
            DIGEST_WORDS.iter().any(|w| line.contains(w)) || line.trim_start().starts_with("got");
        return !digest && !in_public_url(&before);
    }
    // Words joined by `-` and `_` (a file name, a timestamp) have short parts; a key's
    // parts are long.
    let longest = core.split(['-', '_']).map(str::len).max().unwrap_or(0);
    let upper = core.bytes().any(|b| b.is_ascii_uppercase());
    let lower = core.bytes().any(|b| b.is_ascii_lowercase());
    let digit = core.bytes().any(|b| b.is_ascii_digit());
    upper && lower && digit && longest >= 20 && entropy_bits(core) >= 4.0
}

/// Words that say a hex run on their line is a content digest.
const DIGEST_WORDS: &[&str] = &[
    "sha1",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "md5",
    "blake2",
    "digest",
    "checksum",
    "hash",
    "commit",
    // A version control system's revision (`revision: 1f56e84…` of a build's info).
    "revision",
    "layer",
    "integrity",
];

/// Whether the text before a run ends inside the path of a URL on public infrastructure.
fn in_public_url(before: &str) -> bool {
    super::urls::authority_of_path(before).is_some_and(|authority| {
        let host = authority.split(':').next().unwrap_or_default();
        lists::under_any(host, &lists::PUBLIC)
    })
}

/// Shannon entropy per character.
fn entropy_bits(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether the path that `before` ends inside is a file's (`/usr/share/lxc/hooks/`,
/// `.git/hooks/`), whose `hooks` directory holds scripts, not a webhook's secret.
fn in_a_file_path(before: &str) -> bool {
    const ROOTS: &[&str] = &[
        "/usr/", "/etc/", "/var/", "/opt/", "/lib/", "/home/", "/root/", "/srv/", "/tmp/",
    ];
    // A path's start within the last few hundred bytes: a match's cost stays bounded.
    let mut from = before.len().saturating_sub(512);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let path = before[from..]
        .rsplit(|c: char| {
            c.is_whitespace() || matches!(c, '"' | '\'' | '(' | '=' | ',' | ':' | '?' | '#')
        })
        .next()
        .unwrap_or_default();
    ROOTS.iter().any(|r| path.starts_with(r)) || path.ends_with(".git")
}

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn passwords_by_the_tools_own_forms_go() {
        for (text, expected) in [
            ("*:*:*:paperless:Zuurdesem-2025", "*:*:*:<user>:<secret>"),
            (
                "(echo 'Bacalhau#5'; echo 'Bacalhau#5') | smbpasswd -s -a joao",
                "(echo <secret>; echo <secret>) | smbpasswd -s -a <user>",
            ),
            (
                "mongosh --host db -p Parmigiano-24 -u x",
                "mongosh --host <host> -p <secret> -u <user>",
            ),
            ("ROOT_PW=Vliegeren-Op-Zondag", "ROOT_PW=<secret>"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn what_the_shell_glues_to_a_password_is_the_password() {
        for (text, expected) in [
            (
                "IDENTIFIED BY 'Fels'Gr@nit3'; near 'Gr@nit3''",
                "IDENTIFIED BY <secret>; near '<secret>''",
            ),
            (
                "--password Mohn&Weizen7 -x\nWeizen7: command not found",
                "--password <secret> -x\n<secret>: command not found",
            ),
            (
                "POSTGRES_PASSWORD=Sonne;Regen42 postgres\nRegen42: not found",
                "POSTGRES_PASSWORD=<secret> postgres\n<secret>: not found",
            ),
            // A query's next parameter is not glued to a token.
            ("x?token=abcdef&page=2", "x?token=<secret>&page=2"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn password_options_lose_their_values() {
        for (text, expected) in [
            (
                "pct create 105 -password Hunter2 -x",
                "pct create 105 -password <secret> -x",
            ),
            ("--password=Hunter2", "--password=<secret>"),
            ("--cipassword 'my pass'", "--cipassword <secret>"),
            (
                "mysql -u root -pS3cretPass -e 'x'",
                "mysql -u root -p<secret> -e 'x'",
            ),
            ("sshpass -p Hunter2 ssh x", "sshpass -p <secret> ssh x"),
            (
                "wget --http-password=Hunter2 x",
                "wget --http-password=<secret> x",
            ),
            // Not a password: ssh's port, a file with the password in it.
            ("ssh -p 2222 localhost", "ssh -p 2222 localhost"),
            ("--password-file /run/pw", "--password-file /run/pw"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn secret_assignments_lose_their_values() {
        for (text, expected) in [
            ("PASSWORD=Hunter2 ./run", "PASSWORD=<secret> ./run"),
            (
                "MYSQL_ROOT_PASSWORD=Hunter2",
                "MYSQL_ROOT_PASSWORD=<secret>",
            ),
            ("GITHUB_TOKEN=abc123def", "GITHUB_TOKEN=<secret>"),
            ("CF_API_TOKEN='abc def'", "CF_API_TOKEN=<secret>"),
            (
                "SECRET_KEY=xyz LICENSE_KEY=k1",
                "SECRET_KEY=<secret> LICENSE_KEY=<secret>",
            ),
            (
                "https://api.github.com/x?token=abc&page=2",
                "https://api.github.com/x?token=<secret>&page=2",
            ),
            (r#"{"password": "Hunter2"}"#, r#"{"password": <secret>}"#),
            ("db:\n  password: Hunter2\n", "db:\n  password: <secret>\n"),
            // A variable is no secret; the working directory is no password.
            ("PASSWORD=$DB_PASS", "PASSWORD=$DB_PASS"),
            ("PWD=/root OLDPWD=/opt", "PWD=/root OLDPWD=/opt"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn credentials_in_headers_go() {
        assert_eq!(
            scrub("-H 'Authorization: Bearer abcdef123456'"),
            "-H 'Authorization: Bearer <secret>'"
        );
        assert_eq!(
            scrub("Authorization: token abc"),
            "Authorization: token <secret>"
        );
        assert_eq!(scrub("PRIVATE-TOKEN: abc123"), "PRIVATE-TOKEN: <secret>");
        assert_eq!(scrub("X-Api-Key: abc123"), "X-Api-Key: <secret>");
        assert_eq!(scrub("got Bearer abcdefghijklmnop"), "got Bearer <secret>");
    }

    #[test]
    fn well_known_token_shapes_go() {
        for token in [
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "glpat-abcdefghij1234567890",
            "AKIAIOSFODNN7EXAMPLE",
            "xoxb-1234567890-abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ] {
            assert_eq!(
                scrub(&format!("use {token} now")),
                "use <secret> now",
                "{token}"
            );
        }
    }

    #[test]
    fn keys_sql_and_chpasswd_go() {
        assert_eq!(
            scrub(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----\nok"
            ),
            "<secret>\nok"
        );
        assert_eq!(
            scrub("CREATE USER 'nc'@'localhost' IDENTIFIED BY 'Hunter2';"),
            "CREATE USER '<user>'@'localhost' IDENTIFIED BY <secret>;"
        );
        assert_eq!(
            scrub("ALTER ROLE nc WITH PASSWORD 'Hunter2'"),
            "ALTER ROLE nc WITH PASSWORD <secret>"
        );
        assert_eq!(
            scrub(r#"echo "root:Hunter2" | chpasswd"#),
            r#"echo "root:<secret>" | chpasswd"#
        );
        assert_eq!(
            scrub("echo alice:Hunter2 | chpasswd"),
            "echo <user>:<secret> | chpasswd"
        );
        assert_eq!(
            scrub("curl -u alice:Hunter2 https://github.com"),
            "curl -u <user>:<secret> https://github.com"
        );
        assert_eq!(
            scrub("PVEAPIToken=root@pam!ci=0b9e2c1a-1f2e-4d3c-8b7a-6f5e4d3c2b1a"),
            "PVEAPIToken=<secret>"
        );
    }

    #[test]
    fn long_opaque_runs_go_and_digests_and_paths_stay() {
        assert_eq!(
            scrub("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY1 x"),
            "key <secret> x"
        );
        assert_eq!(
            scrub(
                "https://discord.com/api/webhooks/553628475463642731/gBds1ghxY5OokvQyx7eNWVQ4vnakJkS1pAWTN3lg8zV5yPU8d0FZfWe7ihGyiRUIQfHO"
            ),
            "https://discord.com/api/webhooks/<secret>/<secret>"
        );
        // A `hooks` directory of the file system holds scripts.
        for path in [
            "/usr/share/lxc/hooks/lxc-pve-prestart-hook",
            "/opt/gitea/data/gitea-repositories/x.git/hooks/pre-receive.d",
        ] {
            assert_eq!(scrub(path), path);
        }
        assert_eq!(
            scrub("POST /api/webhook/a8f3kd92kslw"),
            "POST /api/webhook/<secret>"
        );
        assert_eq!(
            scrub("in /opt/app/main.py:https://discord.com/api/webhooks/1234567890/proxmox-alerts"),
            "in /opt/app/main.py:https://discord.com/api/webhooks/<secret>/<secret>"
        );
        assert_eq!(
            scrub("echo 'Database Password: VfEmhZN7ePVP2I5uDGpXpn5h'"),
            "echo 'Database Password: <secret>'"
        );
        assert_eq!(
            scrub("api 3f2a1b4c5d6e7f8091a2b3c4d5e6f7a8 x"),
            "api <secret> x"
        );
        for kept in [
            "sha256:3f2a1b4c5d6e7f8091a2b3c4d5e6f7a83f2a1b4c5d6e7f8091a2b3c4d5e6f7a8",
            "Expected sha256 3f2a1b4c5d6e7f8091a2b3c4d5e6f7a83f2a1b4c5d6e7f8091a2b3c4d5e6f7a8\n  Got 3f2a1b4c5d6e7f8091a2b3c4d5e6f7a83f2a1b4c5d6e7f8091a2b3c4d5e6f7a9",
            "/usr/lib/x86_64-linux-gnu/libssl.so.3",
            "prometheus, version 3.0.1 (branch: HEAD, revision: 1f56e8492c31a558ccea833027db4bd7f8b6d0e9)",
            "NODE_OPTIONS=--max-old-space-size=4096",
            "/root/.npm/_logs/2025-01-14T12_34_56_789Z-debug-0.log",
            "AbstractAutowireCapableBeanFactory",
            "python3-setuptools-scm-git-archive",
        ] {
            assert_eq!(scrub(kept), kept);
        }
    }
    #[test]
    fn htpasswd_and_mosquitto_passwd_take_user_and_password_by_position() {
        for (text, want) in [
            (
                "htpasswd -b -c /etc/nginx/.htpasswd sabine Gartenzwerg3",
                "htpasswd -b -c /etc/nginx/.htpasswd <user> <secret>",
            ),
            (
                "mosquitto_passwd -b /etc/mosquitto/passwd homie Gurkensalat",
                "mosquitto_passwd -b /etc/mosquitto/passwd <user> <secret>",
            ),
        ] {
            assert_eq!(crate::scrub(text), want);
        }
    }
}
