//! User names and e-mail addresses.
//!
//! A user name is a word like any other; only its place gives it away: a home directory
//! (`/home/alice`, `C:\Users\carol`, `~dave`), the options and messages of the tools that
//! take one (`sudo -u`, `su -`, `for user "x"`, `psql -U`, `useradd`), the left side of an
//! SSH target or a shell prompt (`alice@nas:~$`), a Proxmox VE realm user (`ivan@pve`), and
//! the owner of a fork in a GitHub path. Accounts every system has (`root`, `www-data`,
//! [`lists::SYSTEM_ACCOUNTS`]) are kept: they say how a step ran, not who ran it.

use regex::{Captures, Regex};

use super::gate::Open;
use super::hosts;
use super::lists;
use super::network;
use super::span::{Found, Rank};

const USER: &str = "<user>";

/// A user name as the tools print it.
macro_rules! user {
    () => {
        r"([A-Za-z_][A-Za-z0-9_.-]*[A-Za-z0-9_]|[A-Za-z_])"
    };
}
macro_rules! host {
    () => {
        r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    };
}

rules! {
    /// The account that `useradd`, `passwd` and the like act on: the last word of the command.
    ACCOUNT_COMMAND = {
        Regex::new(r#"(?m)\b(?:useradd|adduser|usermod|userdel|deluser|passwd|chage|smbpasswd(?:[ \t]+-a)?)[ \t]+[^\n;|&]*?\b([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*(?:$|[;|&\n"'])"#)
            .expect("a valid pattern")
    };

    /// Options and messages after which the next word is a user name.
    BEFORE_USER = {
        Regex::new(concat!(
            r"(?:",
            r#"(?:^|[\s'"=:(])~"#,
            r"|\bsudo(?:[ \t]+-[A-Za-tv-z]+)*[ \t]+(?:-u[ \t]*|--user(?:=|[ \t]+))",
            r"|\brunuser[ \t]+(?:-l|-u|--user(?:=|[ \t]+))[ \t]*",
            // Not after a word of a sentence (`possessive_su`).
            r"|\bsu(?:[ \t]+(?:-|-l|--login))?[ \t]+",
            r#"|(?i:\bfor[ \t]+(?:invalid[ \t]+|illegal[ \t]+)?user)[ \t]+["'`(‘]?"#,
            r#"|(?i:\buser)[ \t]+["'`‘\[]"#,
            r"|->[ \t]*\[",
            r#"|(?i:\binvalid user):?[ \t]*["'`‘]?"#,
            r#"|(?:^|\s)--?[a-z]+[_-]?(?:user|username|login)(?:=|[ \t]+)["']?"#,
            r"|\bmachine[ \t]+\S+[ \t]+login[ \t]+",
            r#"|(?i:\b(?:login as|authentication request for|request for user))[ \t]+["'`]?"#,
            r"|\bu'",
            r"|(?i:\b(?:authenticating|invalid|illegal) user)[ \t]+",
            r"|\((?i:uid|cn|samaccountname)=",
            r#"|(?i:\brole)[ \t]+["'`‘«]"#,
            r"|(?m:^)[ \t]*/user[ \t]+add[ \t]+name=",
            // Messages of localised systems: German, French, Italian, Spanish.
            r#"|(?i:\b(?:benutzer|benutzers|utilisateur|l'utilisateur|utente|usuario|użytkownik|authentification pour))[ \t]+["'`„«]?[ \t]*"#,
            r#"|(?i:пользователь|пользователя)[ \t]+["'«„]?"#,
            r"|\bchown(?:[ \t]+-[A-Za-z]+)*[ \t]+",
            r"|\bcrontab[ \t]+-u[ \t]*",
            r"|(?:^|\s)(?:--username|--login-name)(?:=|[ \t]+)",
            r#"|(?i:\b(?:logged in as|authenticated as|as user))[ \t]+["'`]?"#,
            r")",
            user!()
        ))
        .expect("a valid pattern")
    };

    /// `mysql -u alice`, `mysql -ualice`, `psql -U alice`, `--user=alice`.
    DATABASE_USER = {
        Regex::new(concat!(
            r"(?:^|\s)(?:-[uU][ \t]*|--user(?:=|[ \t]+))",
            user!()
        ))
        .expect("a valid pattern")
    };

    /// The owner of a fork: `github.com/alice-forks/ProxmoxVE`, `repos/alice-forks/ProxmoxVED`.
    FORK_OWNER = {
        Regex::new(r#"(?i)(?:^|[\s'"(=/:])([A-Za-z0-9][A-Za-z0-9-]{0,38})/ProxmoxVED?\b"#)
            .expect("a valid pattern")
    };

    /// A person's full name: git's `user.name`, a display name, useradd's comment.
    FULL_NAME = {
        Regex::new(concat!(
            r#"(?i)\buser\.name(?:[ \t]*=[ \t]*|[ \t]+)("[^"\n]*"|'[^'\n]*')"#,
            r#"|\buser\.name[ \t]*=[ \t]*([^\s"']\S*)"#,
            r#"|(?:--display-?name|--full-?name|--real-?name|\b(?:useradd|usermod|adduser)\b[^\n|;&]*?[ \t](?:-c|--comment))(?:[ \t]*=[ \t]*|[ \t]+)("[^"\n]*"|'[^'\n]*'|[^\s"'-]\S*)"#,
        ))
        .expect("a valid pattern")
    };

    /// git's guess when it has no identity: `(dave@docker-dave.(none))`.
    GIT_GUESS = {
        Regex::new(concat!(
            user!(),
            "@",
            r"([A-Za-z0-9][A-Za-z0-9._-]*)\.\(none\)"
        ))
        .expect("a valid pattern")
    };

    /// `/home/alice`, `/Users/bob`, `C:\Users\carol` (also with doubled backslashes).
    HOME = {
        Regex::new(concat!(r"(?i)(?:/home/|/users/|\\+users\\+)", user!())).expect("a valid pattern")
    };

    /// `uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo)`.
    ID_OUTPUT = {
        Regex::new(r"(?:\b(?:uid|gid|euid|egid|groups)=|,)\d+\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
            .expect("a valid pattern")
    };

    /// MySQL's accounts: `'alice'@'192.168.1.20'`, `'alice'@'db-host'`.
    MYSQL_ACCOUNT = {
        Regex::new(r#"['"`]([A-Za-z_][A-Za-z0-9_.-]*)['"`]@['"`]([A-Za-z0-9%][A-Za-z0-9._%-]*)['"`]"#)
            .expect("a valid pattern")
    };

    /// A personal name before an e-mail address: `Author: Alice Smith <alice@…>`.
    NAME_BEFORE_EMAIL = {
        Regex::new(r"(?m)(?:\b(?:Author|Committer|From|To|Cc|Signed-off-by|Co-authored-by|Reported-by|Reviewed-by)[ \t]*:[ \t]*|\b)([A-Z][\w'.-]*(?:[ \t]+[A-Z][\w'.-]*){0,3})[ \t]*<[^<>\s@]+@[^<>\s]+>")
            .expect("a valid pattern")
    };

    /// The group of `chown user:group`, often the user's own.
    OWNER_GROUP = {
        Regex::new(concat!(
            r#"(?:\bchown(?:[ \t]+-[A-Za-z]+)*[ \t]+|(?i:\binvalid user):?[ \t]*["'`‘]?)[A-Za-z_<][A-Za-z0-9_.<>-]*:"#,
            user!()
        ))
        .expect("a valid pattern")
    };

    /// The owner and group of an `ls -l` line: `drwx------ 2 alice alice 4096 …`.
    LONG_LISTING = {
        Regex::new(concat!(
            r"(?m)(?:^|[\s>])[-dlcbpsD][rwxsStT-]{9}[.+@]?[ \t]+\d+[ \t]+",
            user!(),
            r"[ \t]+",
            user!(),
            r"[ \t]+\d"
        ))
        .expect("a valid pattern")
    };

    /// A systemd unit instanced by a user's name: `syncthing@alice.service`, `user@alice`.
    USER_UNIT = {
        Regex::new(concat!(
            r"\b(?:syncthing|user|user-runtime-dir|code-server|vncserver|jupyter|filebrowser)@",
            user!(),
            r"\.service\b"
        ))
        .expect("a valid pattern")
    };

    /// A telephone number: international (`+420 603 118 442`, `+33612489371`), or as the
    /// countries of the hosts write them at home (`06 12 48 93 71`, `0171-1234567`,
    /// `0612489371`).
    PHONE = {
        Regex::new(concat!(
            r#"(?:^|[\s"'(:=,;])("#,
            r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}",
            r"|0[1-9](?:[ .]\d{2}){4}",
            r"|0[1-9]\d{1,3}[ /-]\d{5,8}",
            r"|0[1-9]\d{8,10}",
            r#")(?:$|[\s"'),;.])"#,
        ))
        .expect("a valid pattern")
    };

    /// The id of a person in a messenger: `chat_id=918273645`, `user_id=42`.
    PERSON_ID = {
        Regex::new(r#"(?i)(?:chat_?id|user_?id)["']?[ \t]*[=:][ \t]*["']?(-?[A-Za-z0-9_@.-]+)"#)
            .expect("a valid pattern")
    };

    /// A shell prompt or SSH's password prompt: `alice@nas-kitchen:~$`, `bob@nas's password:`.
    PROMPT = {
        Regex::new(concat!(
            r"(?:^|[^A-Za-z0-9_.+@-])",
            user!(),
            "@",
            host!(),
            r"(?::[ \t]*[~/]|'s password)"
        ))
        .expect("a valid pattern")
    };

    /// Proxmox VE's users carry their realm: `ivan@pve`, `ci@pam!token`.
    REALM_USER = {
        Regex::new(concat!(
            r"(?:^|[^A-Za-z0-9_.+@-])",
            user!(),
            r"@(?:pam|pve|pbs)(?:[^A-Za-z0-9_.-]|$)"
        ))
        .expect("a valid pattern")
    };

    /// `ssh [options] [user@]host` at a command's position: the host needs no dot.
    SSH_COMMAND = {
        Regex::new(concat!(
            r"(?m)(?:^\s*|[;|&$#:(]\s*|\bsudo\s+|\bexec\s+)(?:ssh|ssh-copy-id|autossh)",
            r"((?:[ \t]+-[46AaCfGgKkMNnqsTtVvXxYy]+|[ \t]+-[BbcDEeFIiJLlmOoPpQRSWw][ \t]*[^\s-]\S*)*)",
            r"[ \t]+(?:",
            user!(),
            "@)?",
            host!(),
            // A name followed by `@` is the user of a target whose host is already replaced.
            r"(?:[^@A-Za-z0-9_.-]|$)",
        ))
        .expect("a valid pattern")
    };

    SSH_LOGIN = Regex::new(concat!(r"(?:^|\s)-l[ \t]*", user!())).expect("a valid pattern");

    /// `ssh [options] user@host` anywhere: with the `user@`, the target is unmistakable.
    SSH_LOGIN_TARGET = {
        Regex::new(concat!(
            r"\b(?:ssh|ssh-copy-id|autossh)",
            r"(?:[ \t]+-[46AaCfGgKkMNnqsTtVvXxYy]+|[ \t]+-[BbcDEeFIiJLlmOoPpQRSWw][ \t]*[^\s-]\S*)*",
            r"[ \t]+",
            user!(),
            "@",
            host!(),
        ))
        .expect("a valid pattern")
    };

    /// `user@host:path` anywhere in an SSH-family line (scp, rsync); a bare `user@host`
    /// after the command is `SSH_COMMAND`'s, and elsewhere in the line it may be an e-mail.
    SSH_TARGET = {
        Regex::new(concat!(r#"(?:^|[\s'"=(])"#, user!(), "@", host!(), ":")).expect("a valid pattern")
    };

    /// `alice@192.168.1.20`: a login at an address (the address is another rule's).
    USER_AT_ADDRESS = {
        Regex::new(concat!(
            r"(?:^|[^A-Za-z0-9_.+@-])",
            user!(),
            r"@(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|<ip>)"
        ))
        .expect("a valid pattern")
    };

    /// Names that a suffix marks as a user's: sshd's `for erik from 10.0.0.5`, a broker's
    /// `user frigate_x: Connection refused`, a list's `name: x password: …`.
    USER_BEFORE = {
        Regex::new(concat!(
            r"(?i)(?:\b(?:password|publickey|keyboard-interactive(?:/pam)?|none)[ \t]+for[ \t]+(?:invalid[ \t]+user[ \t]+)?",
            user!(),
            r"[ \t]+from\b|\buser[ \t]+",
            user!(),
            r":[ \t]|\bname:[ \t]*",
            user!(),
            r",?[ \t]+password:)",
        ))
        .expect("a valid pattern")
    };

    /// Messages that name a user before they say what is wrong with it.
    USER_THEN_VERDICT = {
        Regex::new(concat!(
            r#"(?i)(?:\b(?:user|account)[ \t]+["'`‘]?"#,
            user!(),
            r#"["'`’]?:?[ \t]+(?:does not exist|doesn't exist|not found|is unknown|no such user|already exists|is locked|is disabled|is expired|does not have)"#,
            r#"|(?m:^)[ \t]*"#,
            user!(),
            r#"[ \t]+(?:is not in the sudoers file|ist nicht in der sudoers|n'est pas dans le fichier sudoers)|["'`‘]"#,
            user!(),
            r#"["'`’]:?[ \t]+no such user)"#,
        ))
        .expect("a valid pattern")
    };

    DATABASE_LINE = {
        Regex::new(r"\b(?:mysql|mariadb|mysqldump|mariadb-dump|mysqladmin|psql|pg_dump|pg_restore|createdb|createuser|dropdb|mongosh|mongo|login|crontab|mosquitto_pub|mosquitto_sub|mosquitto_rr)\b")
            .expect("a valid pattern")
    };

    SSH_LINE = {
        // With the backup tools that take a remote as `user@host:path`.
        Regex::new(r"\b(?:ssh|scp|sftp|rsync|ssh-copy-id|autossh|sshfs|syncoid|borg|borgmatic|restic|rclone|duplicity|unison|zrepl|rdiff-backup)\b").expect("a valid pattern")
    };

    /// The user of a web server's access log line: `10.0.0.5 - jonasb [14/Jan/2025:…`.
    ACCESS_LOG_USER = {
        Regex::new(concat!(
            r"(?m)^\S+[ \t]+\S+[ \t]+",
            user!(),
            r"[ \t]+\[\d{1,2}/\w{3}/\d{4}"
        ))
        .expect("a valid pattern")
    };

    /// An LDAP user: `uid=fiona,ou=people,dc=…`, `cn=ingrid,…` beside a domain component.
    LDAP_USER = {
        Regex::new(concat!(
            r"(?i)\b(?:uid|cn)=",
            user!(),
            r"(?:,[a-z]+=[^,\s]+)*,dc="
        ))
        .expect("a valid pattern")
    };

    /// A Matrix id (`@sofie:matrix.example.org`) and a Windows account (`FAM-HOLST\wiebke`).
    ACCOUNT_FORMS = {
        Regex::new(concat!(
            r"(?:^|[\s\x22'(<])@([a-z0-9._=/-]+):[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
            r"|(?:^|[\s\x22'(,=])[A-Z][A-Z0-9-]{1,14}\\([a-z][a-z0-9._-]{1,19})\b",
        ))
        .expect("a valid pattern")
    };

    /// `--user x` is a user, but for the tools whose `--user` is a flag (pip, systemctl).
    USER_OPTION = {
        Regex::new(r"(?m)^(?:[^\n]*?)\s--user(?:=|[ \t]+)([A-Za-z_][A-Za-z0-9_.-]*)")
            .expect("a valid pattern")
    };
}

/// Whether `at` is in the path of a URL whose host is public (a vendor's, a project's).
fn on_a_public_site(text: &str, at: usize) -> bool {
    super::urls::authority_of_path(&text[..at]).is_some_and(|authority| {
        let host = authority.rsplit('@').next().unwrap_or(authority);
        let host = host.split(':').next().unwrap_or(host);
        host.contains('.') && !super::hosts::is_context_host(host)
    })
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    emails(text, found);
    if text.len() < 3 {
        return;
    }
    for caps in open.captures(&HOME, text) {
        // A home directory is a user's, whatever the word: no context-word check. But a
        // public site's path is no directory of this machine
        // (`https://docs.syncthing.net/users/faq.html`).
        if let Some(m) = caps.get(1)
            && !lists::is_system_account(m.as_str())
            && !on_a_public_site(text, m.start())
        {
            found.put(m.range(), Rank::User, USER);
            found.learn(m.as_str(), USER);
        }
    }
    for caps in open.captures(&BEFORE_USER, text) {
        if caps
            .get(0)
            .is_some_and(|m| possessive_su(text, m.start(), m.as_str()))
        {
            continue;
        }
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&USER_BEFORE, text) {
        for group in 1..=3 {
            put_user(caps.get(group), 0, found);
        }
    }
    for re in [&*ACCESS_LOG_USER, &*LDAP_USER] {
        for caps in open.captures(re, text) {
            put_user(caps.get(1), 0, found);
        }
    }
    for caps in open.captures(&ACCOUNT_FORMS, text) {
        put_user(caps.get(1).or_else(|| caps.get(2)), 0, found);
    }
    for caps in open.captures(&USER_OPTION, text) {
        let line = caps.get(0).map_or("", |m| m.as_str());
        if !["pip", "systemctl", "journalctl", "pipx", "npm"]
            .iter()
            .any(|tool| line.contains(tool))
        {
            put_user(caps.get(1), 0, found);
        }
    }
    for caps in open.captures(&PERSON_ID, text) {
        if let Some(m) = caps.get(1)
            && !super::is_placeholder(m.as_str())
        {
            found.put(m.range(), Rank::User, USER);
        }
    }
    for caps in open.captures(&USER_THEN_VERDICT, text) {
        for group in 1..=3 {
            put_user(caps.get(group), 0, found);
        }
    }
    for caps in open.captures(&FULL_NAME, text) {
        if let Some(m) = (1..=3).find_map(|g| caps.get(g)) {
            let name = m.as_str().trim_matches(['"', '\'']);
            if !name.is_empty() && !super::is_placeholder(name) && !name.starts_with('$') {
                found.put(m.range(), Rank::User, USER);
                for part in name.split_whitespace() {
                    found.learn(part, USER);
                }
            }
        }
    }
    for caps in open.captures(&GIT_GUESS, text) {
        put_user_at_host(&caps, 0, found);
    }
    for caps in open.captures(&NAME_BEFORE_EMAIL, text) {
        if let Some(m) = caps.get(1) {
            found.put(m.range(), Rank::User, USER);
        }
    }
    for caps in open.captures(&OWNER_GROUP, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&PHONE, text) {
        if let Some(m) = caps.get(1)
            && m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 8
        {
            found.put(m.range(), Rank::Email, "<phone>");
            found.learn(m.as_str(), "<phone>");
        }
    }
    for caps in open.captures(&USER_UNIT, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&LONG_LISTING, text) {
        put_user(caps.get(1), 0, found);
        put_user(caps.get(2), 0, found);
    }
    for caps in open.captures(&ID_OUTPUT, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&MYSQL_ACCOUNT, text) {
        put_user(caps.get(1), 0, found);
        if let Some(host) = caps.get(2)
            && hosts::is_context_host(host.as_str())
            && host.as_str() != "%"
        {
            found.put(host.range(), Rank::Host, "<host>");
        }
    }
    for caps in open.captures(&REALM_USER, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&USER_AT_ADDRESS, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&PROMPT, text) {
        put_user_at_host(&caps, 0, found);
    }
    for (at, line) in open.lines(&SSH_LINE, text) {
        for caps in SSH_TARGET.captures_iter(line) {
            put_user_at_host(&caps, at, found);
        }
        for caps in SSH_LOGIN.captures_iter(line) {
            put_user(caps.get(1), at, found);
        }
    }
    for caps in open.captures(&SSH_LOGIN_TARGET, text) {
        put_user_at_host(&caps, 0, found);
    }
    for caps in open.captures(&SSH_COMMAND, text) {
        if let Some(host) = caps.get(3) {
            if caps.get(2).is_some() {
                put_user_at_host_parts(caps.get(2), host, 0, found);
            } else if hosts::is_context_host(host.as_str()) {
                found.put(host.range(), Rank::Host, "<host>");
                found.learn(host.as_str(), "<host>");
            }
        }
    }
    for (at, line) in open.lines(&DATABASE_LINE, text) {
        for caps in DATABASE_USER.captures_iter(line) {
            put_user(caps.get(1), at, found);
        }
    }
    for caps in open.captures(&ACCOUNT_COMMAND, text) {
        put_user(caps.get(1), 0, found);
    }
    for caps in open.captures(&FORK_OWNER, text) {
        if let Some(owner) = caps.get(1)
            && !owner.as_str().eq_ignore_ascii_case("community-scripts")
        {
            found.put(owner.range(), Rank::User, USER);
        }
    }
}

/// Whether a `su` at `at` (matched as `matched`) is Spanish's "his" or "its" (`en su
/// lugar`) rather than the command: a word of a sentence before it, no option after it.
/// The command starts a line or follows a shell's separator, `sudo` or `exec`. Checked
/// here rather than in the pattern, whose literal `su` lets the search skip ahead.
fn possessive_su(text: &str, at: usize, matched: &str) -> bool {
    // Only the `su` alternative: `sudo -u x` starts with `su` too.
    let Some(rest) = matched
        .strip_prefix("su")
        .filter(|r| r.starts_with([' ', '\t']))
    else {
        return false;
    };
    if rest.trim_start().starts_with('-') {
        return false;
    }
    let before = text[..at].trim_end_matches([' ', '\t']);
    let word = before
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default();
    !word.is_empty()
        && before.ends_with(word)
        && ![
            "sudo", "exec", "then", "do", "else", "time", "nohup", "run", "use", "using", "try",
            "via", "or", "and",
        ]
        .contains(&word)
}

fn put_user(m: Option<regex::Match<'_>>, offset: usize, found: &mut Found) {
    let Some(m) = m else { return };
    let name = m.as_str();
    if !lists::is_system_account(name) && !lists::CONTEXT.contains(name) {
        found.put(offset + m.start()..offset + m.end(), Rank::User, USER);
        found.learn(name, USER);
    }
}

fn put_user_at_host(caps: &Captures<'_>, offset: usize, found: &mut Found) {
    if let Some(host) = caps.get(2) {
        put_user_at_host_parts(caps.get(1), host, offset, found);
    }
}

/// `user@host` as one finding, so that it wins over reading the pair as an e-mail.
fn put_user_at_host_parts(
    user: Option<regex::Match<'_>>,
    host: regex::Match<'_>,
    offset: usize,
    found: &mut Found,
) {
    let Some(user) = user else { return };
    let name = user.as_str();
    let address = host.as_str();
    let user_part = if lists::is_system_account(name) {
        name.to_owned()
    } else {
        found.learn(name, USER);
        USER.to_owned()
    };
    let host_part = if network::is_address(address) {
        "<ip>".to_owned()
    } else if hosts::is_context_host(address) {
        found.learn(address, "<host>");
        "<host>".to_owned()
    } else {
        address.to_owned()
    };
    found.put(
        offset + user.start()..offset + host.end(),
        Rank::Composite,
        format!("{user_part}@{host_part}"),
    );
}

fn is_email_local(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

fn is_domain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

/// `name@example.org` → `<email>`. The domain needs a public or a private suffix, so
/// `user@host` in a prompt, `pkg@1.2` in npm output and the unit `wg-quick@wg0.service`
/// are not taken for addresses; `git@github.com` is an SSH login to public
/// infrastructure, not a mailbox.
fn emails(text: &str, found: &mut Found) {
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
        let lower = domain.to_ascii_lowercase();
        let tld_ok = lower.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        }) && (lists::under_any(&lower, &lists::PRIVATE)
            || psl::suffix(lower.as_bytes()).is_some_and(|s| s.is_known()));
        let local = &text[start..at];
        let public_login =
            lists::is_system_account(local) && lists::under_any(&lower, &lists::PUBLIC);
        if start < at && tld_ok && !public_login {
            found.put(start..at + 1 + domain.len(), Rank::Email, "<email>");
            last = at + 1 + domain.len();
            // An address names its owner: `fiona.fairbairn@…`, `…@kowalski.pl`.
            found.learn(local, "<user>");
            if !lists::under_any(&lower, &lists::PUBLIC)
                && let Some(owner) = psl::domain(lower.as_bytes())
                && let Ok(owner) = std::str::from_utf8(owner.as_bytes())
                && let Some((label, _)) = owner.split_once('.')
                && !lists::MAIL_PROVIDERS.contains(&owner)
            {
                found.learn(label, "<user>");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn telephone_numbers_go_and_counts_stay() {
        assert_eq!(
            scrub("sms to 06 12 48 93 71, 0612489371 and +420 603 118 442."),
            "sms to <phone>, <phone> and <phone>."
        );
        let counts = "libc.so.6[7f3a1c200000+155000] 12345678 rows in 2026-12-06";
        assert!(!scrub(counts).contains("<phone>"), "{}", scrub(counts));
    }

    #[test]
    fn owners_of_a_long_listing_and_backup_remotes_go() {
        assert_eq!(
            scrub("drwx------ 2 clover clover 4096 Dec  1 10:00 /srv/clover"),
            "drwx------ 2 <user> <user> 4096 Dec  1 10:00 /srv/<user>"
        );
        assert_eq!(
            scrub("syncoid root@kestrel:rpool/data tank/kestrel"),
            "syncoid root@<host>:rpool/data tank/<host>"
        );
        assert_eq!(
            scrub("mosquitto_pub -h localhost -u hausautomation -P x1"),
            "mosquitto_pub -h localhost -u <user> -P <secret>"
        );
    }

    #[test]
    fn emails_go_and_lookalikes_stay() {
        assert_eq!(
            scrub("contact alice.smith+x@example.co.uk now"),
            "contact <email> now"
        );
        assert_eq!(
            scrub("npm i left-pad@1.3.0 @scope/pkg@2.0.1"),
            "npm i left-pad@1.3.0 @scope/pkg@2.0.1"
        );
        assert_eq!(
            scrub("git@github.com:community-scripts/ProxmoxVE.git"),
            "git@github.com:community-scripts/ProxmoxVE.git"
        );
        assert_eq!(
            scrub("Author: Alice Smith <alice@smith-family.de>"),
            "Author: <user> <<email>>"
        );
    }

    #[test]
    fn home_directories_lose_their_owner() {
        assert_eq!(
            scrub("cd /home/alice/app && make"),
            "cd /home/<user>/app && make"
        );
        assert_eq!(scrub("/Users/bob"), "/Users/<user>");
        // A public site's path is no home; a private one's may be.
        assert_eq!(
            scrub("see https://docs.syncthing.net/users/faq.html"),
            "see https://docs.syncthing.net/users/faq.html"
        );
        assert_eq!(
            scrub("see https://wiki.smith.lan/users/bob"),
            "see https://<host>/users/<user>"
        );
        // A space of more than one byte before the URL (the property tests found it).
        assert_eq!(
            scrub("see\u{3000}https://docs.syncthing.net/users/faq.html"),
            "see\u{3000}https://docs.syncthing.net/users/faq.html"
        );
        assert_eq!(scrub(r"C:\Users\carol\Desktop"), r"C:\Users\<user>\Desktop");
        assert_eq!(scrub(r"C:\\Users\\carol"), r"C:\\Users\\<user>");
        assert_eq!(scrub("ls ~dave/x and ~/y"), "ls ~<user>/x and ~/y");
        assert_eq!(scrub("/home/"), "/home/");
    }

    #[test]
    fn tools_that_take_a_user_lose_it() {
        for (text, expected) in [
            ("sudo -u erin make", "sudo -u <user> make"),
            ("su - frank", "su - <user>"),
            ("runuser -l heidi -c x", "runuser -l <user> -c x"),
            (
                r#"Authentication failure for user "grace""#,
                r#"Authentication failure for user "<user>""#,
            ),
            (
                "Access denied for user 'alice'@'192.168.1.20' (using password: YES)",
                "Access denied for user '<user>'@'<ip>' (using password: YES)",
            ),
            ("psql -U alice -d nc", "psql -U <user> -d nc"),
            ("mysql -ualice -p", "mysql -u<user> -p"),
            (
                "useradd -m -s /bin/bash alice",
                "useradd -m -s /bin/bash <user>",
            ),
            (
                "uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo)",
                "uid=1000(<user>) gid=1000(<user>) groups=1000(<user>),27(sudo)",
            ),
            ("SUDO_USER=alice", "SUDO_USER=<user>"),
            (
                "login as ha-ingrid (x) failed",
                "login as <user> (x) failed",
            ),
            (
                r#"Authentication request for "jonasb" has been denied"#,
                r#"Authentication request for "<user>" has been denied"#,
            ),
            (
                "as shelly (u'ingrid') not authorised",
                "as shelly (u'<user>') not authorised",
            ),
            (
                "Authentication for user [jonasb] -> [jonasb] FAILED",
                "Authentication for user [<user>] -> [<user>] FAILED",
            ),
            (
                "10.0.0.5 - jonasb [14/Jan/2025:10:00:00 +0100] \"GET /\"",
                "<ip> - <user> [14/Jan/2025:10:00:00 +0100] \"GET /\"",
            ),
            (
                "ldapsearch -D uid=fiona,ou=people,dc=x,dc=lan",
                "ldapsearch -D uid=<user>,ou=people,dc=<host>,dc=<host>",
            ),
            (
                "hgruber ist nicht in der sudoers-Datei",
                "<user> ist nicht in der sudoers-Datei",
            ),
            (
                "Échec de l'authentification pour marie depuis",
                "Échec de l'authentification pour <user> depuis",
            ),
            (
                "php occ --admin-user marie.d --database-user nc_dubois",
                "php occ --admin-user <user> --database-user <user>",
            ),
            (
                "git config --global user.name \"Alice Smith\"",
                "git config --global user.name <user>",
            ),
            // Accounts every system has stay.
            ("sudo -u postgres psql", "sudo -u postgres psql"),
            ("for user root", "for user root"),
            // `su` as a command takes a user; as Spanish's "its" it does not.
            ("at line 12: su frank -c id", "at line 12: su <user> -c id"),
            ("$ sudo su grace", "$ sudo su <user>"),
            ("then run su heidi -c make", "then run su <user> -c make"),
            ("A sudo -u ivan make", "A sudo -u <user> make"),
            (
                "se han utilizado unos antiguos en su lugar.",
                "se han utilizado unos antiguos en su lugar.",
            ),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn ssh_targets_and_prompts_lose_user_and_host() {
        for (text, expected) in [
            ("ssh root@pve-kitchen.home.arpa", "ssh root@<host>"),
            (
                "ssh -p 2222 alice@nas-kitchen uptime",
                "ssh -p 2222 <user>@<host> uptime",
            ),
            ("$ ssh backup-nas", "$ ssh <host>"),
            (
                "alice@192.168.1.20: Permission denied (publickey)",
                "<user>@<ip>: Permission denied (publickey)",
            ),
            (
                "rsync -avz /data bob@nas.fritz.box:/volume1/backup",
                "rsync -avz /data <user>@<host>:/volume1/backup",
            ),
            ("judy@nas-kitchen:~$ ls", "<user>@<host>:~$ ls"),
            ("root@pve:~# ls", "root@<host>:~# ls"),
            ("bob@nas's password:", "<user>@<host>'s password:"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn realm_users_and_fork_owners_go() {
        assert_eq!(
            scrub("user ivan@pve has no access"),
            "user <user>@pve has no access"
        );
        assert_eq!(scrub("root@pam"), "root@pam");
        assert_eq!(
            scrub("https://raw.githubusercontent.com/alice-forks/ProxmoxVE/main/ct/x.sh"),
            "https://raw.githubusercontent.com/<user>/ProxmoxVE/main/ct/x.sh"
        );
        assert_eq!(
            scrub("github.com/community-scripts/ProxmoxVED"),
            "github.com/community-scripts/ProxmoxVED"
        );
    }
}
