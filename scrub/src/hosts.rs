//! Host and domain names.
//!
//! Two kinds of evidence make a word a host name:
//! - **Its shape**: a dotted name under a private suffix (`nas.smith.lan`), or a fully
//!   qualified name under a public suffix (`cloud.some-family.de`) that is not public
//!   infrastructure ([`lists::PUBLIC_DOMAINS`]). The public suffix list tells a domain
//!   from a word with dots: `config.yaml`, `v1.2.3` and `libssl3` have no public suffix.
//! - **Its context**: whatever follows `-hostname`, `search`, `Could not resolve host:`,
//!   `ssh user@`, `/nodes/`, `//` of a share, and the like is a host, dots or not
//!   (`nas-alice`).
//!
//! The loopback names and IP addresses are left to their own rules.

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::lists::{self, under_any};
use super::network;
use super::span::{Found, Rank};

const HOST: &str = "<host>";

/// The rules that apply to one word on its own: its shape.
pub(super) fn find_in_word(text: &str, found: &mut Found) {
    find_names(text, found);
    for m in WINDOWS_NAME.find_iter(text) {
        put_host(Some(m), found);
    }
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    find_names(text, found);
    if text.len() > 2 {
        find_contexts(text, found, open);
    }
}

/// Dotted names that are hosts by their shape alone. Letters of any script count, so
/// an internationalised name (`cloud.müller-family.de`) is a name like any other.
fn find_names(text: &str, found: &mut Found) {
    // Only a run of name characters with a dot in it can be one: look from each dot
    // for the run around it, rather than at every word.
    let mut from = 0;
    while let Some(dot) = text[from..].find('.').map(|d| from + d) {
        let start = text[..dot]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_name_char(c))
            .last()
            .map_or(dot, |(i, _)| i);
        let end = text[dot..]
            .char_indices()
            .find(|&(_, c)| !is_name_char(c))
            .map_or(text.len(), |(i, _)| dot + i);
        from = end;
        let run = &text[start..end];
        let head = run.trim_start_matches(['.', '-', '_']);
        let word = head.trim_end_matches(['.', '-', '_']);
        let s = start + (run.len() - head.len());
        if word.contains('.')
            && !is_namespace(word)
            && !(word.starts_with(|c: char| c.is_uppercase())
                && !under_any(&word.to_lowercase(), &lists::PRIVATE)
                && stack_frame(&text[..s], &text[s + word.len()..]))
            && let Some(len) = host_prefix(word)
        {
            found.put(s..s + len, Rank::Host, HOST);
            learn_short_name(&word[..len], found);
            learn_owner_label(&word[..len], found);
        }
    }
}

/// Whether the word between `before` and `after` is the function of a stack frame, as
/// JavaScript, Java and .NET print them (`    at Znp.open (/opt/…/znp.js:258:28)`,
/// `\tat org.example.Foo.bar(Foo.java:12)`, `   at async Promise.all (`): code, whatever
/// its last part spells (`.open` is also a top-level domain).
pub(crate) fn stack_frame(before: &str, after: &str) -> bool {
    let Some(line) = ["at ", "at new ", "at async "]
        .iter()
        .find_map(|at| before.strip_suffix(at))
    else {
        return false;
    };
    // Only the indent may come before `at` on its line; looked at from the end, so that
    // a long line costs no more than a short one.
    let indent = line.trim_end_matches([' ', '\t']);
    (indent.is_empty() || indent.ends_with('\n')) && code_location(after)
}

/// What follows a frame's function: where the code is, in parentheses (`(znp.js:258:28)`,
/// `(Foo.java:12)`, `(Native Method)`, `(<anonymous>)`) or nothing (`()`).
fn code_location(after: &str) -> bool {
    let Some(inside) = after.strip_prefix(" (").or_else(|| after.strip_prefix('(')) else {
        return false;
    };
    let Some(end) = inside
        .get(..inside.len().min(512))
        .and_then(|i| i.find(')'))
    else {
        return false;
    };
    let location = &inside[..end];
    location.is_empty()
        || matches!(location, "Native Method" | "Unknown Source" | "<anonymous>")
        || location
            .rsplit_once(':')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// The label a person registered (`kowalski` of `lernen.kowalski.pl`) names them
/// wherever else it appears (`/var/www/moodle-schule-kowalski`).
///
/// A label that names a tool (`curl` of `curl.se`, `ollama` of `ollama.ai`) is not
/// learned: it is the tool's project, not a person, and learning it would take the tool's
/// name out of every line that runs it. The whole name is still replaced wherever it
/// appears.
fn learn_owner_label(name: &str, found: &mut Found) {
    let lower = name.to_lowercase();
    if let Some(domain) = psl::domain(lower.as_bytes())
        && domain.suffix().is_known()
        && let Ok(domain) = std::str::from_utf8(domain.as_bytes())
        && let Some((label, _)) = domain.split_once('.')
        && !crate::vocabulary::names_a_tool(label)
    {
        found.learn(label, HOST);
    }
}

/// A private name's first label is the host's short name, which logs print alone
/// (`127.0.1.1 nas-alice.smith.lan nas-alice`).
fn learn_short_name(name: &str, found: &mut Found) {
    if under_any(&name.to_lowercase(), &lists::PRIVATE)
        && let Some((first, _)) = name.split_once('.')
    {
        found.learn(first, HOST);
    }
}

/// How much of a dotted word is a host name: all of it, or the part before a file
/// extension (`cloud.alice.de` of `cloud.alice.de.conf`); `None` when it is no host.
pub(super) fn host_prefix(word: &str) -> Option<usize> {
    if !looks_like_a_host(word) {
        return None;
    }
    let lower = word.to_lowercase();
    if lower.len() != word.len() {
        // Only the ASCII and the most common scripts keep their length when lower-cased;
        // a name whose length changes is judged as written.
        return host_prefix_exact(word);
    }
    host_prefix_exact(&lower)
}

/// What a dotted word with a top-level domain's ending is, when no host: a version and a
/// file (`v1.14.24.zip`, `4.1.115.Final`), or a file named in capitals
/// (`Jackett.Binaries.LinuxAMDx64.zip`), as host names are not written.
fn looks_like_a_host(word: &str) -> bool {
    let Some((head, tld)) = word.rsplit_once('.') else {
        return true;
    };
    let versioned = head
        .trim_start_matches(['v', 'V'])
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.');
    let capitals_before_a_file_ending = lists::FILE_LIKE_TLDS
        .contains(&tld.to_ascii_lowercase().as_str())
        && head.bytes().any(|b| b.is_ascii_uppercase());
    !(versioned || capitals_before_a_file_ending)
}

fn host_prefix_exact(lower: &str) -> Option<usize> {
    if lists::is_local_name(lower) {
        return None;
    }
    if under_any(lower, &lists::PRIVATE) && lower.contains('.') {
        return Some(lower.len());
    }
    let mut name = lower;
    while let Some((head, ext)) = name.rsplit_once('.') {
        if head.contains('.') && lists::FILE_EXTENSIONS.contains(&ext) {
            name = head;
        } else {
            break;
        }
    }
    let hosty = if under_any(name, &lists::PRIVATE) {
        !lists::is_local_name(name)
    } else {
        is_public_host(name)
    };
    hosty.then_some(name.len())
}

/// Whether `name` is, or is under, a domain of public infrastructure (`deb.debian.org`).
pub(crate) fn is_public_infrastructure(name: &str) -> bool {
    under_any(&name.to_ascii_lowercase(), &lists::PUBLIC)
}

/// A fully qualified name under a public suffix that is no one's public infrastructure.
fn is_public_host(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return false;
    }
    // Host names have no `_` (identifiers do), and a top-level domain is letters.
    if name.contains('_') {
        return false;
    }
    let Some(tld) = labels.last() else {
        return false;
    };
    if !(tld.chars().all(char::is_alphabetic) || tld.starts_with("xn--")) {
        return false;
    }
    match psl::suffix(name.as_bytes()) {
        Some(suffix) if suffix.is_known() && suffix.as_bytes().len() < name.len() => {}
        _ => return false,
    }
    if under_any(name, &lists::PUBLIC) || a_projects_own(name) {
        return false;
    }
    if labels.len() == 2
        && (lists::FILE_LIKE_TLDS.contains(tld) || lists::CODE_WORDS.contains(&labels[0]))
    {
        return false;
    }
    if labels.len() >= 3 && lists::REVERSE_DNS_ROOTS.contains(&labels[0]) {
        return false;
    }
    true
}

/// The names projects give the services under their domain (`docs.syncthing.net`,
/// `hub-cdn.crowdsec.net`), each alone or joined by `-`.
const SERVICE_LABELS: &[&str] = &[
    "api",
    "apt",
    "assets",
    "blog",
    "cdn",
    "community",
    "deb",
    "dev",
    "dl",
    "docs",
    "download",
    "downloads",
    "files",
    "forum",
    "get",
    "help",
    "hub",
    "install",
    "mirror",
    "mirrors",
    "objects",
    "packages",
    "pkg",
    "pkgs",
    "raw",
    "registry",
    "release",
    "releases",
    "repo",
    "repos",
    "rpm",
    "static",
    "status",
    "support",
    "update",
    "updates",
    "wiki",
    "www",
];

/// A tool's project's own domain and its services (`curl.se`, `docs.syncthing.net`,
/// `hub-cdn.crowdsec.net`): the label registered under a public suffix names a tool, and
/// is neither a word of a language (`example.com`, `falcon.io` are anyone's) nor a name;
/// each label before it names a service ([`SERVICE_LABELS`]). Only under a suffix of the
/// ICANN section: under one anyone can register at (`jellyfin.duckdns.org`), the name is
/// a person's.
fn a_projects_own(name: &str) -> bool {
    let Some(domain) = psl::domain(name.as_bytes()) else {
        return false;
    };
    if domain.suffix().typ() != Some(psl::Type::Icann) {
        return false;
    }
    let Ok(registered) = std::str::from_utf8(domain.as_bytes()) else {
        return false;
    };
    let Some((label, _)) = registered.split_once('.') else {
        return false;
    };
    let services = name
        .strip_suffix(registered)
        .map_or("", |s| s.trim_end_matches('.'));
    crate::vocabulary::names_a_tool(label)
        && !crate::vocabulary::is_a_language_word(label)
        && crate::vocabulary::lookup(label) != Some(crate::vocabulary::Known::AlsoAName)
        && (services.is_empty()
            || services
                .split(['.', '-'])
                .all(|w| SERVICE_LABELS.contains(&w)))
}

/// `Microsoft.Extensions.Hosting`, `NzbDrone.Core`: every label capitalised is a
/// namespace in code; host names are not written so.
fn is_namespace(word: &str) -> bool {
    word.split('.').count() >= 2
        && word.split('.').all(|label| {
            let mut chars = label.chars();
            chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.clone().any(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric())
        })
}

/// A name found by its context: a host unless it is loopback, an address (another
/// rule's), a number, a wildcard or public infrastructure.
pub(super) fn is_context_host(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.is_empty()
        || lists::is_local_name(&lower)
        || lists::CONTEXT.contains(&lower)
        || lower.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || network::is_address(name)
    {
        return false;
    }
    !(lower.contains('.') && (under_any(&lower, &lists::PUBLIC) || a_projects_own(&lower)))
}

/// A host name as contexts capture it: letters, digits, `.`, `-` and `_`, starting and
/// ending with a letter or digit. It cannot start with `<`, so a placeholder is never
/// taken for a name, and a second round finds nothing new.
macro_rules! name {
    () => {
        r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    };
}

/// Windows names its machines `DESKTOP-7QK2M1F`: that is one machine's name.
static WINDOWS_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:DESKTOP|LAPTOP|WIN)-[A-Z0-9]{7,8}\b").expect("a valid pattern")
});

static CERT_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^|\s)(?:-d|--domains?(?:=|[ \t]))[ \t]*\*?\.?",
        name!()
    ))
    .expect("a valid pattern")
});

/// Words that end up before `: Name or service not known` without being hosts.
const NOT_HOSTS: &[&str] = &[
    "error",
    "warning",
    "fatal",
    "ping",
    "ping6",
    "ssh",
    "curl",
    "wget",
    "git",
    "sudo",
    "host",
    "failed",
    "nslookup",
    "dig",
    "nc",
    "telnet",
    "socket",
    "getaddrinfo",
    "lookup",
];

/// Words of `ip route` and `ip neigh` lines, which also start with an address.
const ROUTE_WORDS: &[&str] = &[
    "dev",
    "via",
    "proto",
    "scope",
    "src",
    "metric",
    "link",
    "kernel",
    "dhcp",
    "static",
    "lladdr",
    "router",
    "reachable",
    "stale",
    "delay",
    "failed",
    "permanent",
    "incomplete",
    "host",
    "global",
    "brd",
    "inet",
    "inet6",
    "table",
    "default",
    "blackhole",
    "unreachable",
    "prohibit",
    "onlink",
    "pref",
    "medium",
    "expires",
];

/// `nas:/volume1/media` (NFS, scp, rsync) in such a line.
static NFS_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(r#"(?:^|[\s"'=])"#, name!(), r":/(?:[^/]|$)")).expect("a valid pattern")
});
/// `-h db01`, `--host=db01` in a database client's line.
static DATABASE_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(r"(?:^|\s)(?:-h[ \t]*|--host(?:=|[ \t]+))", name!()))
        .expect("a valid pattern")
});
/// A VM's name is the host name its owner gave it.
static QM_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(r"(?:^|\s)--?name(?:=|[ \t]+)", name!())).expect("a valid pattern")
});
rules! {
    /// Contexts after which the next name is a host.
    BEFORE_NAME = {
        Regex::new(concat!(
            r"(?i)(?:",
            // Options and keys that name a host or a domain.
            r#"(?:^|[\s"'(;|&,])--?(?:hostname|searchdomain|search-domain|domain|dns-search|dns-domain|fqdn|nodename|node)(?:=|[ \t]+)["']?"#,
            r#"|\b(?:hostname|host-name|searchdomain|search-domain|fqdn|dns-search|dns-domain|domain-name|domain|nodename|servername)["']?[ \t]*[=:][ \t]*["']?"#,
            // Any option that ends in `host` names one: `--target-host`, `--db-host`.
            r#"|(?:^|[\s"'(;|&,])--(?:[a-z0-9]+-)*(?:host(?:name)?|server)(?:=|[ \t]+)["']?"#,
            r"|\bserver_?name[ \t]+",
            r"|\bHost\(\x60",
            r"|\bset-hostname[ \t]+",
            r#"|\boption[ \t]+(?:host-name|domain-name|fqdn)[ \t]+["']?"#,
            r"|(?m:^)name:[ \t]*",
            // Resolution and connection errors.
            r"|\bcould not resolve host(?:name)?(?:[ \t]+address)?:?[ \t]*[\x22'`]?",
            r#"|\b(?:unable to|could not|cannot|can't|failed to) resolve[ \t]+(?:host(?:name)?(?:[ \t]+address)?:?[ \t]+["'`]?|["'`])"#,
            r#"|\btemporary failure resolving[ \t]+["'`]?"#,
            r"|\bconnect to host[ \t]+",
            r#"|\btranslate host name[ \t]+["'`]?"#,
            // curl's certificate mismatch, tailscale's answer, an NFS server's silence,
            // rsync's French, LibreNMS's poller.
            r#"|\btarget host name[ \t]+["'`]?|\bpong from[ \t]+|\bNFS server[ \t]+["']?"#,
            r"|\bjoindre l'hôte[ \t]+|\bdevice:(?:add|poll|discover|remove)[ \t]+",
            // wget's failure to resolve, in the languages the hosts speak.
            r"|\b(?:l'adresse de l'hôte|la dirección del equipo|host address)[ \t]+[«»\x22'‘]?[ \t]?",
            // A header that names the host: HTTP's, mysqldump's `-- Host: db`.
            r"|(?-i:\b(?:Host|HOST):)[ \t]+",
            // A certificate's subject and alternative names.
            r"|(?-i:\bCN)[ \t]*=[ \t]*|(?-i:\bDNS:)",
            // The host of a prompt written as bash's PS1 (`\u@nas`).
            r"|\\u@",
            r"|\bgetaddrinfo[ \t]+(?:ENOTFOUND|EAI_AGAIN)[ \t]+",
            r#"|\b(?:unknown|invalid|bad) host(?:name)?[ \t]*[:'"]?[ \t]*["']?"#,
            r#"|\bno such host:?[ \t]+["']?"#,
            r#"|\bserver (?:on|at)[ \t]+["']?"#,
            // Proxmox VE: nodes and VMs by name, in messages and paths.
            r#"|\bnode[ \t]+["']"#,
            r#"|(?:^|[/\s'"])nodes/"#,
            r#"|\bVM[ \t]+\d+[ \t]+[('"]"#,
            r#"|\(host[ \t]+["']?"#,
            r"|\bPinging[ \t]+",
            r#"|\bDevice[ \t]+\S+[ \t]+name[ \t]+["']"#,
            r"|(?:^|[\s,])(?:fatal|ok|changed|failed|skipping|unreachable):[ \t]+\[",
            r"|(?m:^)/system[ \t]+identity[ \t]+set[ \t]+name=",
            r"|\b(?:to|for|from|on)[ \t]+VM[ \t]+\d+[ \t]+",
            r"|\bsysName(?:\.0)?[ \t]*=[ \t]*STRING:[ \t]*\x22?",
            r"|\bnode[ \t]*\{[ \t]*name:[ \t]*",
            r"|(?:\b\d{1,3}(?:\.\d{1,3}){3}|<ip>|<mac>|\b[0-9A-Fa-f]{12})[ \t]+\(",
            // `uname -a`: the host follows the kernel's name.
            // Shares: `\\nas\media`, `//nas/media`; `smb://` is a URL.
            r#"|(?:^|[\s"'=(])\\\\"#,
            r#"|(?:^|[\s"'=(])//"#,
            // docker --add-host name:address
            r"|--add-host[= ]",
            r")",
            name!()
        ))
        .expect("a valid pattern")
    };

    /// Names that a context follows: `nas: Name or service not known`.
    AFTER_NAME = {
        Regex::new(concat!(
            r#"(?i)(?:^|[\s"'(:])"#,
            name!(),
            r"(?::[ \t]*(?:Name or service not known|Temporary failure in name resolution|No address associated with hostname|nodename nor servname provided",
            // The same in the languages the hosts speak (glibc's catalogues).
            r"|Nom ou service inconnu|Échec temporaire dans la résolution du nom|Name oder Dienst nicht bekannt|Temporärer Fehler bei der Namensauflösung|Nombre o servicio desconocido|Fallo temporal en la resolución del nombre)",
            r"|[ \t]+not found: \d+\(NXDOMAIN\))",
        ))
        .expect("a valid pattern")
    };

    /// Go's resolver: `lookup minio on 127.0.0.53:53: no such host`.
    LOOKUP = {
        Regex::new(concat!(
            r"\blookup[ \t]+",
            name!(),
            r"(?:[ \t]+on[ \t]|:[ \t]*no such host)"
        ))
        .expect("a valid pattern")
    };

    /// wget's `Resolving nas (nas)... failed`, in the languages the hosts speak: the name
    /// is followed by itself in parentheses, which no "resolving dependencies" is.
    RESOLVING = {
        Regex::new(concat!(
            r"\b(?:Resolving|Résolution de|Auflösen des Hostnamens?|Resolviendo)[ \t]+[»«\x22']?",
            name!(),
            r"[»«\x22']?[ \t]+\("
        ))
        .expect("a valid pattern")
    };

    /// curl's `Failed to connect to nas port 8096`, netcat's `connect to nas port 8096`:
    /// the port tells it from a bus or a socket.
    CONNECT = {
        // rsync's `failed to connect to nas (10.0.0.5)` gives its address instead.
        Regex::new(concat!(
            r"(?i)\bconnect to[ \t]+",
            name!(),
            r"(?:[ \t]+port\b|[ \t]+\((?:<ip>|\d))"
        ))
        .expect("a valid pattern")
    };

    /// `uname -a`: `Linux nas-alice 6.8.12-4-pve #1 SMP …`.
    UNAME = {
        Regex::new(concat!(r"\bLinux[ \t]+", name!(), r"[ \t]+\d+\.\d+")).expect("a valid pattern")
    };

    /// A syslog or journal line: time, then the host, then the program.
    SYSLOG = {
        Regex::new(concat!(
            r"(?m)^(?:[A-Za-zÀ-ÖØ-öø-ÿ]{3,5}\.?[ \t]+\d{1,2}[ \t]+\d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)[ \t]+",
            name!(),
            r"[ \t]+[A-Za-z0-9_.@/()-]+(?:\[\d+\])?:"
        ))
        .expect("a valid pattern")
    };

    /// dnsmasq's leases: `DHCPACK(vmbr0) 10.0.0.5 bc:24:11:ab:cd:ef frigate`.
    DHCP = {
        Regex::new(concat!(
            r"\bDHCP(?:ACK|REQUEST|OFFER|INFORM|RELEASE|DISCOVER)\([^)\n]*\)[ \t]+\S+[ \t]+\S+[ \t]+",
            name!()
        ))
        .expect("a valid pattern")
    };

    TAILSCALE_PEER = {
        Regex::new(concat!(
            r"(?m)^[ \t]*(?:100\.\d{1,3}\.\d{1,3}\.\d{1,3}|fd7a:[0-9a-f:]+|<ip>)[ \t]+",
            name!(),
            r"[ \t]+([A-Za-z0-9._-]+)@"
        ))
        .expect("a valid pattern")
    };

    /// LDAP's domain components: `dc=smith,dc=lan`.
    DOMAIN_COMPONENT = Regex::new(concat!(r"\b(?i:dc)=", name!())).expect("a valid pattern");

    /// NUT names a UPS by `ups@host`.
    UPS = {
        Regex::new(concat!(
            r"\b(?:MONITOR|UPS|upsc|upscmd|upsrw)[ \t\[]+[A-Za-z0-9_.-]+@",
            name!()
        ))
        .expect("a valid pattern")
    };

    /// A quoted device name that is reached at an address: syncthing's `"laptop" at 10.0.0.5`.
    NAME_AT_ADDRESS = {
        Regex::new(concat!(
            r#"["']"#,
            name!(),
            r#"["'][ \t]+at[ \t]+(?:<ip>|\d{1,3}\.\d)"#
        ))
        .expect("a valid pattern")
    };

    /// Lists of hosts: ceph's `quorum a,b,c`, tailscale's peers (address, name, owner).
    QUORUM = {
        Regex::new(r"\bquorum[ \t]+([A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*)").expect("a valid pattern")
    };

    /// The domains a certificate is asked for: `certbot -d x`, `acme.sh --issue -d x`.
    CERT_LINE = {
        Regex::new(r"\b(?:certbot|acme\.sh|lego|dehydrated|getssl)\b").expect("a valid pattern")
    };

    /// Lines of resolv.conf and interfaces(5) that list names.
    NAME_LISTS = {
        Regex::new(r"(?im)^[ \t]*(?:search|domain|dns-search|dns-domain|dns-nameservers|nameserver)[ \t]+([^\n#]+)")
            .expect("a valid pattern")
    };

    /// `/etc/hosts` lines: an address, then names.
    HOSTS_LINE = {
        Regex::new(r"(?m)^[ \t]*(\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}|<ip>)[ \t]+([^\n#]+)")
            .expect("a valid pattern")
    };

    /// Commands whose lines carry host names in their own forms.
    MOUNT_LINE = {
        Regex::new(r"(?i)\b(?:mount|nfs|nfs4|fstab|showmount|rsync|scp|cifs|smb)\b")
            .expect("a valid pattern")
    };

    DATABASE_LINE = {
        Regex::new(r"\b(?:mysql|mariadb|mysqldump|mariadb-dump|mysqladmin|psql|pg_dump|pg_restore|pg_isready|redis-cli|mongosh|mongo)\b")
            .expect("a valid pattern")
    };

    QM_LINE = Regex::new(r"\bqm[ \t]+(?:create|set|clone)\b").expect("a valid pattern");

    /// The command position of a network tool: the start of a line or of a command.
    PROBE = {
        Regex::new(concat!(
            r"(?m)(?:^[ \t]*(?:\++[ \t]+)?|[;|&$#:]\s*|\bsudo\s+)(?:ping6?|traceroute|tracepath|mtr|nslookup|telnet|arping)",
            r"((?:[ \t]+-\S+(?:[ \t]+\d+)?)*)[ \t]+",
            name!()
        ))
        .expect("a valid pattern")
    };

    /// An inventory line (`pve-x ansible_host=10.0.0.5`), a quoted `host:port` target
    /// (`'nas-x:9100'`), a RADIUS client (`client ap-x {`).
    INVENTORY = {
        Regex::new(concat!(
            r"(?m)^[ \t]*",
            name!(),
            r"[ \t]+ansible_|[\x22']",
            name!(),
            r":\d{4,5}[\x22']|\bclient[ \t]+",
            name!(),
            r"[ \t]*\{",
        ))
        .expect("a valid pattern")
    };
}

fn find_contexts(text: &str, found: &mut Found, open: &Open<'_>) {
    for caps in open.captures(&BEFORE_NAME, text) {
        // `--server https://…` names a URL's scheme, not a host: the URL rule's.
        // One letter is an elided value (`--server x`), not a name.
        if let Some(m) = caps.get(1)
            && m.len() > 1
            && !text[m.end()..].starts_with(":/")
        {
            put_host(Some(m), found);
        }
    }
    for caps in open.captures(&AFTER_NAME, text) {
        if let Some(m) = caps.get(1)
            && !NOT_HOSTS.contains(&m.as_str().to_ascii_lowercase().as_str())
        {
            put_host(Some(m), found);
        }
    }
    for re in [
        &*LOOKUP,
        &*RESOLVING,
        &*CONNECT,
        &*UNAME,
        &*SYSLOG,
        &*DHCP,
        &*TAILSCALE_PEER,
        &*DOMAIN_COMPONENT,
        &*UPS,
        &*NAME_AT_ADDRESS,
    ] {
        for caps in open.captures(re, text) {
            put_host(caps.get(1), found);
        }
    }
    for caps in open.captures(&INVENTORY, text) {
        put_host((1..=3).find_map(|g| caps.get(g)), found);
    }
    for caps in open.captures(&TAILSCALE_PEER, text) {
        if let Some(owner) = caps.get(2)
            && !lists::is_system_account(owner.as_str())
        {
            found.put(owner.range(), Rank::User, "<user>");
            found.learn(owner.as_str(), "<user>");
        }
    }
    for m in WINDOWS_NAME.find_iter(text) {
        put_host(Some(m), found);
    }
    for caps in open.captures(&QUORUM, text) {
        if let Some(list) = caps.get(1) {
            let mut at = list.start();
            for name in list.as_str().split(',') {
                if is_context_host(name) {
                    found.put(at..at + name.len(), Rank::Host, HOST);
                    found.learn(name, HOST);
                }
                at += name.len() + 1;
            }
        }
    }
    for (at, line) in open.lines(&CERT_LINE, text) {
        for caps in CERT_DOMAIN.captures_iter(line) {
            put_host_at(at, caps.get(1), found);
        }
    }
    for caps in open.captures(&NAME_LISTS, text) {
        put_words(text, caps.get(1), &[], found);
    }
    for caps in open.captures(&HOSTS_LINE, text) {
        let (Some(address), Some(names)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if address.as_str() != "<ip>" && !network::is_address(address.as_str()) {
            continue;
        }
        let words: Vec<&str> = names.as_str().split_whitespace().collect();
        let all_names = words.len() <= 6
            && words.iter().all(|w| {
                w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                    && !ROUTE_WORDS.contains(&w.to_ascii_lowercase().as_str())
            });
        if all_names {
            put_words(text, Some(names), &[], found);
        }
    }
    for line in open.lines(&MOUNT_LINE, text) {
        for caps in NFS_TARGET.captures_iter(line.1) {
            put_host_at(line.0, caps.get(1), found);
        }
    }
    for line in open.lines(&DATABASE_LINE, text) {
        for caps in DATABASE_HOST.captures_iter(line.1) {
            put_host_at(line.0, caps.get(1), found);
        }
    }
    for line in open.lines(&QM_LINE, text) {
        for caps in QM_NAME.captures_iter(line.1) {
            put_host_at(line.0, caps.get(1), found);
        }
    }
    for caps in open.captures(&PROBE, text) {
        put_host(caps.get(2), found);
    }
}

fn put_host(m: Option<regex::Match<'_>>, found: &mut Found) {
    put_host_at(0, m, found);
}

fn put_host_at(offset: usize, m: Option<regex::Match<'_>>, found: &mut Found) {
    if let Some(m) = m
        && is_context_host(m.as_str())
    {
        found.put(offset + m.start()..offset + m.end(), Rank::Host, HOST);
        found.learn(m.as_str(), HOST);
    }
}

/// Each whitespace-separated name in `m` is a host (but loopback names and addresses).
fn put_words(text: &str, m: Option<regex::Match<'_>>, _keep: &[&str], found: &mut Found) {
    let Some(m) = m else { return };
    let mut at = m.start();
    for word in text[m.start()..m.end()].split_inclusive([' ', '\t']) {
        let trimmed = word.trim_end_matches([' ', '\t', '\r']);
        let name = trimmed.trim_end_matches([',', ';']);
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if valid && is_context_host(name) {
            found.put(at..at + name.len(), Rank::Host, HOST);
            found.learn(name, HOST);
        }
        at += word.len();
    }
}

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn a_function_in_a_stack_frame_is_no_host() {
        let frame = "    at Znp.open (/opt/zigbee2mqtt/dist/znp.js:258:28)";
        assert_eq!(scrub(frame), frame);
        // Out of a frame the same name is one, and a private name is one in a frame too.
        assert_eq!(scrub("ping znp.open"), "ping <host>");
        assert_eq!(scrub("what nas.open (x)"), "what <host> (x)");
        assert_eq!(scrub("    at Znp.open (x)"), "    at <host> (x)");
        assert_eq!(
            scrub("    at Nas.smith.lan (/opt/x.js:1:2)"),
            "    at <host> (/opt/x.js:1:2)"
        );
    }

    #[test]
    fn the_tools_own_ways_of_naming_a_host_name_it() {
        for (text, expected) in [
            (
                "could not translate host name \"kestrel\" to address",
                "could not translate host name \"<host>\" to address",
            ),
            (
                "nc: connect to kestrel port 8080 (tcp) failed",
                "nc: connect to <host> port 8080 (tcp) failed",
            ),
            (
                "-- Host: kestrel    Database: app",
                "-- Host: <host>    Database: app",
            ),
            ("subject=CN = kestrel", "subject=CN = <host>"),
            ("DNS:kestrel, DNS:kestrel.lan", "DNS:<host>, DNS:<host>"),
            (
                "ping: kestrel: Nom ou service inconnu",
                "ping: <host>: Nom ou service inconnu",
            ),
            ("+ ping -c1 kestrel", "+ ping -c1 <host>"),
            ("PS1='\\u@kestrel:\\w'", "PS1='\\u@<host>:\\w'"),
            (
                "run.py --target-host kestrel",
                "run.py --target-host <host>",
            ),
            (
                "failed to connect to kestrel (10.0.0.3)",
                "failed to connect to <host> (<ip>)",
            ),
            ("pong from kestrel (100.64.0.2)", "pong from <host> (<ip>)"),
            (
                "matches target host name 'kestrel'",
                "matches target host name '<host>'",
            ),
            ("NFS server kestrel (10.0.0.3)", "NFS server <host> (<ip>)"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn a_domain_named_after_a_tool_leaves_the_tool() {
        // A label that is also a word of a language (`curl`) is anyone's domain: the host
        // goes, and the tool stays.
        assert_eq!(
            scrub("see https://curl.se/docs/x.html\ncurl: (60) SSL"),
            "see https://<host>/docs/x.html\ncurl: (60) SSL"
        );
        // A tool's own domain and its services are public.
        let kept = "see https://docs.navidrome.org/users/faq.html, hub-cdn.navidrome.org and \
                    https://rubygems.org/";
        assert_eq!(scrub(kept), kept);
        // Not under a suffix anyone registers at, nor with any other label before it.
        for (text, expected) in [
            ("https://jellyfin.duckdns.org/web", "https://<host>/web"),
            ("ping anna.navidrome.org", "ping <host>"),
            ("ping nas-2.navidrome.org", "ping <host>"),
            ("ping docs.navidrome.org.gallardo.es", "ping <host>"),
            ("https://git.example.com/x", "https://<host>/x"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
        // A person's label is learned still.
        assert_eq!(
            scrub("https://pve.gallardo.es:8006 token tf-gallardo"),
            "https://<host>:8006 token tf-<host>"
        );
    }

    #[test]
    fn names_under_private_suffixes_go() {
        for (text, expected) in [
            ("mount nas.smith.lan failed", "mount <host> failed"),
            ("http://homeassistant.local:8123", "http://<host>:8123"),
            ("ssh pve-kitchen.home.arpa", "ssh <host>"),
            ("fritz.box", "<host>"),
            ("db.corp.internal:5432", "<host>:5432"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn fully_qualified_names_go_unless_public_infrastructure() {
        assert_eq!(
            scrub("curl: (6) Could not resolve host: cloud.some-family.de"),
            "curl: (6) Could not resolve host: <host>"
        );
        assert_eq!(scrub("see media.millers-home.net now"), "see <host> now");
        assert_eq!(scrub("alice.duckdns.org"), "<host>");
        for kept in [
            "Temporary failure resolving 'deb.debian.org'",
            "GET https://raw.githubusercontent.com/community-scripts/ProxmoxVE/main/misc/build.func",
            "Err:1 http://archive.ubuntu.com/ubuntu noble InRelease",
            "registry-1.docker.io and dl-cdn.alpinelinux.org",
        ] {
            assert_eq!(scrub(kept), kept);
        }
    }

    #[test]
    fn words_with_dots_that_are_no_domains_stay() {
        for kept in [
            "config.yaml install.sh setup.py README.md docker-compose.yml",
            "nginx.conf jellyfin.service /etc/apt/sources.list.d/docker.list",
            "v1.2.3 8.4.14 python3.11-venv libssl3 libc.so.6 1.5GiB",
            "subprocess.run self.app user.name os.path org.freedesktop.DBus.Error",
            "e.g. i.e. std::vec::Vec node.js socket.io",
        ] {
            assert_eq!(scrub(kept), kept);
        }
    }

    #[test]
    fn a_host_name_before_a_file_extension_goes() {
        assert_eq!(
            scrub("/etc/nginx/sites-enabled/cloud.alice.de.conf"),
            "/etc/nginx/sites-enabled/<host>.conf"
        );
    }

    #[test]
    fn host_naming_options_and_keys_go() {
        assert_eq!(
            scrub("pct create 105 -hostname nas-alice -searchdomain smith.lan"),
            "pct create 105 -hostname <host> -searchdomain <host>"
        );
        assert_eq!(scrub("--hostname=nas-alice"), "--hostname=<host>");
        assert_eq!(scrub("hostname: nas-alice"), "hostname: <host>");
        assert_eq!(scrub("HOSTNAME=nas-alice"), "HOSTNAME=<host>");
        assert_eq!(scrub("--domain smith"), "--domain <host>");
        assert_eq!(
            scrub(r#"{"hostname": "nas-alice"}"#),
            r#"{"hostname": "<host>"}"#
        );
        assert_eq!(scrub("server_name cloud;"), "server_name <host>;");
    }

    #[test]
    fn resolv_conf_and_hosts_lines_go() {
        assert_eq!(
            scrub("search smith.lan kitchen\ndomain smith\nnameserver 192.168.1.1"),
            "search <host> <host>\ndomain <host>\nnameserver <ip>"
        );
        assert_eq!(
            scrub("127.0.1.1 nas-alice.smith.lan nas-alice\n127.0.0.1 localhost"),
            "127.0.1.1 <host> <host>\n127.0.0.1 localhost"
        );
        // A route is not a hosts line.
        assert_eq!(
            scrub("10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5"),
            "<ip>/24 dev eth0 proto kernel scope link src <ip>"
        );
    }

    #[test]
    fn resolution_errors_name_hosts() {
        for (text, expected) in [
            (
                "sudo: unable to resolve host nas-alice: Name or service not known",
                "sudo: unable to resolve host <host>: Name or service not known",
            ),
            (
                "ssh: Could not resolve hostname backup-nas: Name or service not known",
                "ssh: Could not resolve hostname <host>: Name or service not known",
            ),
            (
                "ping: nas-bob: Temporary failure in name resolution",
                "ping: <host>: Temporary failure in name resolution",
            ),
            (
                "curl: (7) Failed to connect to nas-bob port 8096 after 3 ms",
                "curl: (7) Failed to connect to <host> port 8096 after 3 ms",
            ),
            (
                "getaddrinfo ENOTFOUND grafana-box",
                "getaddrinfo ENOTFOUND <host>",
            ),
            (
                "dial tcp: lookup minio-store on 127.0.0.53:53: no such host",
                "dial tcp: lookup <host> on 127.0.0.53:53: no such host",
            ),
            (
                "Error: Name or service not known",
                "Error: Name or service not known",
            ),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn names_in_the_forms_of_particular_tools_go() {
        for (text, expected) in [
            (
                "MON_DOWN: quorum pve-o-01,pve-o-03",
                "MON_DOWN: quorum <host>,<host>",
            ),
            (
                "100.101.102.103  svens-iphone  sven@  ios  -",
                "<ip>  <host>  <user>@  ios  -",
            ),
            ("workstation DESKTOP-7QK2M1F", "workstation <host>"),
            (
                "certbot certonly -d cloud.rossi-casa.it -d rossi-casa.it",
                "certbot certonly -d <host> -d <host>",
            ),
            (
                "bind cn=admin,dc=fairbairn,dc=lan",
                "bind cn=admin,dc=<host>,dc=<host>",
            ),
            (
                "Login on UPS [eaton5sc@nas-ingrid] failed",
                "Login on UPS [eaton5sc@<host>] failed",
            ),
            (
                r#""jonas-laptop" at 10.0.0.5:22000"#,
                r#""<host>" at <ip>:22000"#,
            ),
            (
                "janv. 14 12:34:56 nextcloud-dubois php[12]: x",
                "janv. 14 12:34:56 <host> php[12]: x",
            ),
            (
                "QEMU exited with code 1 (VM 104 'win11-jonas-gaming')",
                "QEMU exited with code 1 (VM 104 '<host>')",
            ),
            (
                "Could not load 'Microsoft.Extensions.Hosting, Version=8.0.0.0'",
                "Could not load 'Microsoft.Extensions.Hosting, Version=8.0.0.0'",
            ),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn proxmox_nodes_shares_and_mounts_go() {
        assert_eq!(
            scrub("/etc/pve/nodes/pve-kitchen/lxc/105.conf"),
            "/etc/pve/nodes/<host>/lxc/105.conf"
        );
        assert_eq!(
            scrub("storage 'nas-heidi' is not available on node 'pve-kitchen'"),
            "storage '<name>' is not available on node '<host>'"
        );
        assert_eq!(
            scrub(r"mount error: \\NAS-ALICE\share"),
            r"mount error: \\<host>\share"
        );
        assert_eq!(
            scrub("mount -t cifs //nas-alice/media /mnt/media"),
            "mount -t cifs //<host>/media /mnt/media"
        );
        assert_eq!(
            scrub("mount -t nfs nas-alice:/volume1/media /mnt/media"),
            "mount -t nfs <host>:/volume1/media /mnt/media"
        );
        assert_eq!(
            scrub("qm create 200 --name alice-win11 --memory 4096"),
            "qm create 200 --name <host> --memory 4096"
        );
        assert_eq!(scrub("mysql -h db01 -e x"), "mysql -h <host> -e x");
        assert_eq!(scrub("$ ping -c 1 nas-bob"), "$ ping -c 1 <host>");
    }
}
