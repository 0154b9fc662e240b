//! URLs: `scheme://[userinfo@]host[:port]/…`.
//!
//! The host of a URL is a host by its place, dots or not (`http://nas-alice:8096`), and
//! goes unless it is loopback, an address (another rule's) or public infrastructure. The
//! user information goes too: `user:password@` is a secret, `user@` a user name unless
//! it is a system account (`git@`).

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::hosts;
use super::lists;
use super::span::{Found, Rank};

rules! {
    URL = {
        Regex::new(
            r#"(?i)\b[a-z][a-z0-9+.-]{1,15}://([^\s/?#"'<>\\]+)(/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)?)?"#,
        )
        .expect("a valid pattern")
    };

    /// A UUID in a URL's path is a capability (`https://hc-ping.com/<uuid>`): whoever has
    /// the URL may use it.
    UUID_IN_PATH = {
        Regex::new(r"(?i)://([^/\s]+)/(?:[^\s?#]*/)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
            .expect("a valid pattern")
    };
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    if !text.contains("://") {
        return;
    }
    for caps in open.captures(&UUID_IN_PATH, text) {
        let (Some(host), Some(uuid)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        if !lists::under_any(&host.as_str().to_ascii_lowercase(), &lists::PUBLIC) {
            found.put(uuid.range(), Rank::Secret, "<secret>");
        }
    }
    for caps in open.captures(&URL, text) {
        let Some(authority) = caps.get(1) else {
            continue;
        };
        let start = authority.start();
        let authority = authority.as_str();
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let host_start = start + userinfo.map_or(0, |u| u.len() + 1);
        // `[v6]:port` is the address rule's; a name ends at the port.
        let host = if hostport.starts_with('[') {
            ""
        } else {
            hostport.split(':').next().unwrap_or(hostport)
        };
        let host = host.trim_end_matches('.');
        let is_name = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        let host_goes = is_name && hosts::is_context_host(host);
        if host_goes {
            found.learn(host, "<host>");
        }
        // The owner in `/owner/repo` is an account's: on someone's own git server, or
        // when the URL logs in (a private repository) it is a person's.
        let personal = host_goes || super::network::is_address(host) || hostport.starts_with('[');
        // A path of one segment is a bucket of object storage (`s3://key:secret@host/bucket`);
        // elsewhere the owner is the first of two (`/owner/repo`).
        let two_segments = caps.get(2).is_some_and(|p| p.as_str()[1..].contains('/'));
        let scheme = caps.get(0).map_or("", |m| &text[m.start()..start]);
        let bucket = ["s3://", "gs://", "b2://", "minio://"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s));
        if let Some(path) = caps.get(2)
            && (two_segments || bucket)
            && (userinfo.is_some() || (personal && is_git(text, path.as_str(), path.end())))
            && let Some(owner) = path.as_str()[1..].split('/').next()
            && !owner.eq_ignore_ascii_case("community-scripts")
            && !lists::is_system_account(owner)
        {
            let at = path.start() + 1;
            found.put(at..at + owner.len(), Rank::User, "<user>");
            found.learn(owner, "<user>");
        }
        let Some(userinfo) = userinfo else {
            if host_goes {
                found.put(host_start..host_start + host.len(), Rank::Host, "<host>");
            }
            continue;
        };
        let user = userinfo.split(':').next().unwrap_or(userinfo);
        if !lists::is_system_account(user) {
            found.learn(user, "<user>");
        }
        // `user@host` as one finding, so that it is not read as an e-mail address.
        let user_part = if userinfo.contains(':') {
            "<secret>"
        } else if lists::is_system_account(userinfo) || super::is_placeholder(userinfo) {
            userinfo
        } else {
            "<user>"
        };
        let host_part = if host_goes { "<host>" } else { host };
        found.put(
            start..host_start + host.len(),
            Rank::Composite,
            format!("{user_part}@{host_part}"),
        );
    }
}

/// The authority (`user@host:port`) of the URL in whose path `before` ends: after its
/// last `://`, with no space since and a `/` begun.
pub(super) fn authority_of_path(before: &str) -> Option<&str> {
    let (_, rest) = before.rsplit_once("://")?;
    if rest.contains(char::is_whitespace) {
        return None;
    }
    let (authority, _) = rest.split_once('/')?;
    Some(authority)
}

/// Whether a URL path is a git repository's: it ends in `.git`, or git is on its line.
fn is_git(text: &str, path: &str, end: usize) -> bool {
    if path.ends_with(".git") {
        return true;
    }
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    GIT_WORD.is_match(&text[line_start..line_end])
}

static GIT_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bgit\b").expect("a valid pattern"));

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn url_hosts_and_credentials_go() {
        for (text, expected) in [
            (
                "git clone https://bob:s3cret@git.example.com/repo.git",
                "git clone https://<secret>@<host>/repo.git",
            ),
            ("http://nas-alice:8096/web", "http://<host>:8096/web"),
            ("smb://alice@nas/media", "smb://<user>@<host>/media"),
            ("ssh://git@gitlab.smith.lan/x", "ssh://git@<host>/x"),
            ("http://192.168.1.10:3142/debian", "http://<ip>:3142/debian"),
            ("http://[fd00::12]:8006/", "http://[<ip>]:8006/"),
            (
                "http://localhost:8080/health",
                "http://localhost:8080/health",
            ),
            (
                "https://github.com/community-scripts/ProxmoxVE",
                "https://github.com/community-scripts/ProxmoxVE",
            ),
            ("https://example.com/a@b", "https://<host>/a@b"),
            (
                "git clone https://gitea.smith.lan/frank/homelab",
                "git clone https://<host>/<user>/homelab",
            ),
            (
                "https://alice:tok@github.com/alice-smith/cfg.git",
                "https://<secret>@github.com/<user>/cfg.git",
            ),
            (
                "https://github.com/jellyfin/jellyfin/releases",
                "https://github.com/jellyfin/jellyfin/releases",
            ),
            (
                "curl https://hc-ping.com/5b8e2f1a-3c4d-4e6f-9a7b-8c9d0e1f2a3b",
                "curl https://<host>/<secret>",
            ),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }
}
