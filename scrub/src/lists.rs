//! Every list the scrubber keeps, in one place, each with the reason it is as it is.
//! Changing one changes what is stored: the unit tests, the corpus test
//! (`tests/fixtures/scrub/corpus.toml`) and the false-positive count say by how much.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Registrable domains of public infrastructure that install errors name for good
/// reason: where the scripts fetch code, packages and images from. A name under one of
/// these is kept (`deb.debian.org`, `raw.githubusercontent.com`); every other fully
/// qualified name is replaced, since it may be someone's own (`cloud.some-family.de`).
/// Short on purpose: a vendor missing here only costs an error message some detail.
pub(super) const PUBLIC_DOMAINS: &[&str] = &[
    // Code and releases.
    "github.com",
    "githubusercontent.com",
    "ghcr.io",
    "gitlab.com",
    "codeberg.org",
    "sourceforge.net",
    "community-scripts.org",
    // Distributions and their mirrors.
    "debian.org",
    "ubuntu.com",
    "launchpad.net",
    "alpinelinux.org",
    "fedoraproject.org",
    "archlinux.org",
    "opensuse.org",
    "kernel.org",
    "gnu.org",
    "proxmox.com",
    "turnkeylinux.org",
    "linuxcontainers.org",
    // Package and image registries.
    "docker.io",
    "docker.com",
    "quay.io",
    "gcr.io",
    "npmjs.org",
    "npmjs.com",
    "yarnpkg.com",
    "nodejs.org",
    "nodesource.com",
    "pypi.org",
    "pythonhosted.org",
    "python.org",
    "crates.io",
    "rust-lang.org",
    "go.dev",
    "golang.org",
    "sury.org",
    "packagecloud.io",
    // The other registries of the languages the apps are built with, and the CDNs that
    // serve npm's packages.
    "jsdelivr.net",
    "unpkg.com",
    "pypa.io",
    "packagist.org",
    "getcomposer.org",
    "rubygems.org",
    "maven.org",
    "gradle.org",
    "adoptium.net",
    "nuget.org",
    "dot.net",
    "aka.ms",
    "huggingface.co",
    // Vendors whose repositories many scripts add.
    "microsoft.com",
    "nvidia.com",
    "intel.com",
    "apache.org",
    "postgresql.org",
    "mariadb.org",
    "mysql.com",
    "mongodb.org",
    "mongodb.com",
    "redis.io",
    "nginx.org",
    "php.net",
    "grafana.com",
    "influxdata.com",
    "elastic.co",
    "hashicorp.com",
    "jellyfin.org",
    "plex.tv",
    "home-assistant.io",
    "cloudflare.com",
    "letsencrypt.org",
    "tailscale.com",
    "gitea.io",
    "gitea.com",
    "forgejo.org",
    "gopkg.in",
    "k8s.io",
    // Apps whose name is their domain: `netboot.xyz` is also an nsapp.
    "netboot.xyz",
];

/// Suffixes that only exist inside private networks: every name under one is someone's
/// own host. The public suffix list knows none of them, so without this list a name like
/// `nas.smith.lan` would read as a word with dots.
pub(super) const PRIVATE_SUFFIXES: &[&str] = &[
    "lan",
    "local",
    "home",
    "internal",
    "localdomain",
    "localnet",
    "home.arpa",
    "intranet",
    "corp",
    "private",
    "priv",
    "box",
    "lab",
    "homelab",
    "home.lan",
    "dmz",
    "iot",
    "mgmt",
    "intern",
    "lokal",
];

/// Last labels of file names that are also top-level domains: `install.sh`, `setup.py`,
/// `README.md` and `subprocess.run` are files and code, not hosts. Only two-label names
/// are read this way; `www.alice.sh` is still a host.
pub(super) const FILE_LIKE_TLDS: &[&str] = &[
    // File extensions.
    "sh", "py", "pl", "pm", "md", "rs", "so", "zip", "mov", "cc", "mk", "am", "ac", "in", "ps",
    "sc", "pro", // Members in code and words after a dot.
    "run", "app", "link", "id", "name", "is", "it", "to", "at", "be", "no", "do", "page", "info",
    "network", "services", "tools", "ai", "io", "email", "host", "site", "store", "online", "java",
    "kt", "scala", "build", // Postfix's and SpamAssassin's configuration (`master.cf`).
    "cf",
];

/// File extensions that may follow a host name in a path (`/etc/nginx/cloud.alice.de.conf`):
/// the name before them is still looked at.
pub(super) const FILE_EXTENSIONS: &[&str] = &[
    "conf", "cfg", "crt", "cer", "pem", "key", "csr", "log", "json", "yml", "yaml", "toml", "ini",
    "txt", "service", "socket", "timer", "bak", "old", "tmp", "lock", "pid", "sock", "db", "env",
    "list", "sources", "zone", "p12", "pfx",
];

/// First labels that make a two-label word code rather than a name: `self.app`,
/// `user.name`, `data.store`. Names of three labels or more are not read this way:
/// `server.alice.de` is a host.
pub(super) const CODE_WORDS: &[&str] = &[
    "self",
    "this",
    "cls",
    "super",
    "obj",
    "os",
    "sys",
    "re",
    "np",
    "pd",
    "json",
    "math",
    "time",
    "path",
    "process",
    "err",
    "error",
    "e",
    "ex",
    "exc",
    "req",
    "res",
    "request",
    "response",
    "resp",
    "ctx",
    "context",
    "item",
    "user",
    "config",
    "settings",
    "args",
    "kwargs",
    "module",
    "exports",
    "console",
    "window",
    "document",
    "event",
    "data",
    "result",
    "subprocess",
    "asyncio",
    "logging",
    "logger",
    "log",
    "app",
    "client",
    "server",
    "db",
    "conn",
    "cursor",
    "socket",
    "container",
    "image",
    "node",
    "value",
    "values",
    "spec",
    "status",
    "metadata",
    "core",
    "util",
    "utils",
    "lib",
    "pkg",
    "main",
    "index",
    "test",
    "tests",
    "setup",
    "package",
    "version",
    "build",
    "dist",
    "src",
    "file",
    "files",
    "str",
    "string",
    "int",
    "list",
    "dict",
    "array",
    "object",
    "map",
    "set",
    "http",
    "https",
    "net",
    "io",
    "fs",
    "crypto",
    "buffer",
    "stream",
    "url",
    "uvicorn",
    "flask",
    "django",
    "fastapi",
    "pip",
    "npm",
    "yarn",
    "cargo",
];

/// Reverse-DNS identifiers start with a top-level domain (`org.freedesktop.DBus`,
/// `com.docker.cli`); hosts do not start with these.
pub(super) const REVERSE_DNS_ROOTS: &[&str] = &["com", "org", "net", "io", "edu", "gov"];

/// Accounts that every system has: naming one says nothing about a person, and knowing
/// that a step ran as root helps to read a failure. Every other user name is replaced.
pub(super) const SYSTEM_ACCOUNTS: &[&str] = &[
    "root",
    "admin",
    "administrator",
    "nobody",
    "daemon",
    "www-data",
    "postgres",
    "mysql",
    "git",
    "ubuntu",
    "debian",
    "user",
    "guest",
    "public",
    "default",
    "sys",
    "bin",
    "syslog",
    "systemd-network",
    "_apt",
    // Accounts that Debian and the packages scripts install create for themselves.
    "backup",
    "list",
    "irc",
    "gnats",
    "proxy",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "sshd",
    "messagebus",
    "ntp",
    "_chrony",
    "avahi",
    "dnsmasq",
    "tss",
    "uuidd",
    "tcpdump",
    "polkitd",
    "systemd-timesync",
    "systemd-resolve",
    "nut",
    "borg",
    "redis",
    "mongodb",
    "influxdb",
    "grafana",
    "prometheus",
    "nginx",
    "caddy",
    "elasticsearch",
    "rabbitmq",
    "memcache",
    "mosquitto",
    "postfix",
    "dovecot",
    "clamav",
    "bind",
    "unbound",
    "plex",
    // Groups, which `id` prints beside the user.
    "adm",
    "sudo",
    "wheel",
    "users",
    "docker",
    "lxd",
    "plugdev",
    "cdrom",
    "dip",
    "video",
    "render",
    "audio",
    "netdev",
    "systemd-journal",
];

/// Words that stand where a context expects a name without being one: the words of
/// the context itself (`could not resolve host: …` read from its middle), and values
/// that say there is no host.
pub(super) const CONTEXT_WORDS: &[&str] = &[
    // `unix:/run/php/php8.2-fpm.sock`: a socket, not a host.
    "unix",
    "host",
    "hostname",
    "hosts",
    "name",
    "port",
    "to",
    "from",
    "on",
    "node",
    "nodes",
    "domain",
    "search",
    "server",
    "the",
    "at",
    "for",
    "via",
    "and",
    "or",
    "with",
    "failed",
    "error",
    "not",
    "found",
    "unknown",
    "none",
    "null",
    "nil",
    "true",
    "false",
    "yes",
    "no",
    "default",
    "auto",
    "dhcp",
    "static",
    "manual",
    "any",
    "all",
    "self",
    "is",
    "was",
    "in",
    "of",
    "by",
    "address",
    "bus",
    "it",
    "this",
    "that",
    "client",
    "localhost",
    "socket",
    // What mount prints where a share's host would be.
    "proc",
    "sysfs",
    "tmpfs",
    "devpts",
    "overlay",
    "cgroup",
    "cgroup2",
    "mqueue",
    "devtmpfs",
];

/// Storage ids that Proxmox VE creates itself: they name no one's anything.
pub(super) const DEFAULT_STORAGES: &[&str] = &[
    "local",
    "local-lvm",
    "local-zfs",
    "local-btrfs",
    "local-dir",
    "pbs",
    "cephfs",
    "ceph",
    // The pools that installers and guides name.
    "rpool",
    "tank",
    "data",
];

/// Names that are no one's host: the loopback names.
pub(super) const LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-allnodes",
    "ip6-allrouters",
];

/// Time-zone areas of the tz database: `Europe/Berlin` is where a host stands.
pub(super) const TIME_ZONE_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
];

/// Words too common to be looked for everywhere once a context has shown them to be a
/// name: a storage called `media` must not take every `/mnt/media` with it.
pub(super) const COMMON_WORDS: &[&str] = &[
    "media",
    "backup",
    "backups",
    "data",
    "home",
    "share",
    "shares",
    "public",
    "storage",
    "test",
    "docker",
    "server",
    "local",
    "web",
    "mail",
    "cloud",
    "files",
    "photos",
    "music",
    "videos",
    "downloads",
    "config",
    "app",
    "apps",
    "dev",
    "prod",
    "main",
    "master",
    "proxmox",
    "pve",
    "pbs",
    "nas",
    "www",
    "api",
    "git",
    "debian",
    "ubuntu",
    "alpine",
    "linux",
    "none",
    "null",
    "true",
    "false",
    "yes",
    "no",
    "password",
    "secret",
    "token",
    "admin",
    "user",
    "users",
    "guest",
    "service",
    "services",
    "system",
    "default",
    "vmbr0",
    "eth0",
    "lxc",
    "qemu",
    "tank",
    "rpool",
    "pool",
    "disk",
    "images",
    "iso",
    "template",
    "templates",
    "dump",
    "snippets",
    "rootdir",
    "vztmpl",
    "import",
    "nfs",
    "cifs",
    "smb",
    "zfs",
    "lvm",
    "dir",
    // Mailboxes that are roles, not people.
    "info",
    "mail",
    "noreply",
    "no-reply",
    "alerts",
    "alert",
    "notify",
    "notifications",
    "support",
    "contact",
    "hello",
    "office",
    "postmaster",
    "webmaster",
    "monitoring",
    "home",
    "family",
    "familie",
];

/// Mail providers: the domain of an address there names the provider, not its owner.
pub(super) const MAIL_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "posteo.de",
    "mailbox.org",
    "proton.me",
    "protonmail.com",
    "aol.com",
    "orange.fr",
    "free.fr",
    "libero.it",
];

/// Whether a name that a context revealed may be looked for everywhere else.
pub(super) fn is_learnable(name: &str) -> bool {
    if name.chars().count() < 3 || name.starts_with('<') {
        return false;
    }
    // A number is learned only when it is as precise as a position (`47.99582`): any
    // shorter one is also a version, a size or a count elsewhere in the text.
    if name
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        return name
            .split_once('.')
            .is_some_and(|(_, decimals)| decimals.len() >= 4 && !decimals.contains('.'));
    }
    let lower = name.to_lowercase();
    !SYSTEM.contains(&lower)
        && !COMMON.contains(&lower)
        && !CONTEXT.contains(&lower)
        && !LOCAL.contains(&lower)
}

pub(super) fn is_system_account(name: &str) -> bool {
    SYSTEM.contains_any_case(name)
}

pub(super) fn is_local_name(name: &str) -> bool {
    LOCAL.contains_any_case(name)
}

/// A list, hashed once: the rules ask about every word and dotted name of a text, and
/// a linear scan of a list per word was a tenth of a scrubbing round.
pub(super) struct Set {
    list: &'static [&'static str],
    /// More entries, one a line, each taken if `admit` allows it.
    lines: &'static str,
    admit: fn(&str) -> bool,
    hashed: OnceLock<HashSet<&'static str>>,
}

impl Set {
    const fn of(list: &'static [&'static str]) -> Self {
        Self::with_lines(list, "", |_| true)
    }

    const fn with_lines(
        list: &'static [&'static str],
        lines: &'static str,
        admit: fn(&str) -> bool,
    ) -> Self {
        Self {
            list,
            lines,
            admit,
            hashed: OnceLock::new(),
        }
    }

    /// Whether `word`, compared as written, is in the list (every list is lower case).
    pub(super) fn contains(&self, word: &str) -> bool {
        self.hashed
            .get_or_init(|| {
                let more = self
                    .lines
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#') && (self.admit)(l));
                self.list.iter().copied().chain(more).collect()
            })
            .contains(word)
    }

    /// Whether `word`, compared without ASCII case, is in the list.
    pub(super) fn contains_any_case(&self, word: &str) -> bool {
        if word.bytes().any(|b| b.is_ascii_uppercase()) {
            self.contains(&word.to_ascii_lowercase())
        } else {
            self.contains(word)
        }
    }
}

/// [`PUBLIC_DOMAINS`] and the hosts the scripts download from (scrub/data/public-hosts.txt,
/// written by scrub/vocabulary/build.sh), hashed.
pub(super) static PUBLIC: Set = Set::with_lines(
    PUBLIC_DOMAINS,
    include_str!("../data/public-hosts.txt"),
    registrable,
);

/// A name with a registered part under a known suffix: `ollama.com`, not `duckdns.org`
/// (a suffix, under which anyone names their own host) nor `slow.server`.
fn registrable(host: &str) -> bool {
    psl::domain(host.as_bytes()).is_some_and(|d| d.suffix().is_known())
}
/// [`PRIVATE_SUFFIXES`], hashed.
pub(super) static PRIVATE: Set = Set::of(PRIVATE_SUFFIXES);
/// [`CONTEXT_WORDS`], hashed.
pub(super) static CONTEXT: Set = Set::of(CONTEXT_WORDS);
/// [`COMMON_WORDS`], hashed.
pub(super) static COMMON: Set = Set::of(COMMON_WORDS);
static SYSTEM: Set = Set::of(SYSTEM_ACCOUNTS);
static LOCAL: Set = Set::of(LOCAL_NAMES);

/// Whether `name` (lower case) is one of `domains` or under one: whether it, or what
/// follows one of its dots, is in the list.
pub(super) fn under_any(name: &str, domains: &Set) -> bool {
    let mut rest = name;
    loop {
        if domains.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, tail)) => rest = tail,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_any_matches_whole_labels_only() {
        assert!(under_any("deb.debian.org", &PUBLIC));
        // From the scripts' downloads; a suffix anyone registers under is not taken.
        assert!(under_any("ollama.com", &PUBLIC));
        assert!(!registrable("duckdns.org"));
        assert!(!registrable("s3-us-west-1.amazonaws.com"));
        assert!(under_any("github.com", &PUBLIC));
        assert!(!under_any("notgithub.com", &PUBLIC));
        assert!(!under_any("github.com.evil.de", &PUBLIC));
        assert!(under_any("nas.smith.lan", &PRIVATE));
        assert!(under_any("nas..lan", &PRIVATE));
        assert!(!under_any("lan", &Set::of(&["x.lan"])));
    }

    #[test]
    fn the_lists_are_lower_case_where_they_are_compared_lower_case() {
        for list in [
            PUBLIC_DOMAINS,
            PRIVATE_SUFFIXES,
            FILE_LIKE_TLDS,
            FILE_EXTENSIONS,
            CODE_WORDS,
            REVERSE_DNS_ROOTS,
            SYSTEM_ACCOUNTS,
            LOCAL_NAMES,
            COMMON_WORDS,
            CONTEXT_WORDS,
        ] {
            for entry in list {
                assert_eq!(entry.to_lowercase(), *entry);
            }
        }
    }
}
