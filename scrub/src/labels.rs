//! Names that people give to their things, which often carry their own or their host's
//! name: Proxmox VE storages (`nas-heidi-nfs`), PBS datastores, S3 buckets, Wi-Fi
//! networks (`Wohnung-Fischer-5G`) and the organisation of a certificate. They are
//! replaced by `<name>`; the storages Proxmox VE creates itself (`local`, `local-lvm`,
//! [`lists::DEFAULT_STORAGES`]) stay, since an error about them helps to fix a script.

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::hosts;
use super::lists;
use super::span::{Found, Rank};

const NAME: &str = "<name>";

macro_rules! label {
    () => {
        r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    };
}

static SUBJECT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s,/])(O|OU|L|ST|CN)[ \t]*=[ \t]*([^,/\n]*[^,/\s])")
        .expect("a valid pattern")
});

rules! {
    /// Contexts after which the next word is a storage or datastore id.
    STORAGE = {
        Regex::new(concat!(
            r"(?i)(?:",
            r#"\b(?:storage|datastore)[ \t]+["'`]"#,
            r"|(?:^|\s)--?(?:storage|datastore)(?:=|[ \t]+)",
            r"|\bpvesm[ \t]+(?:add[ \t]+[a-z]+|set|remove|list|free|alloc)[ \t]+",
            r"|/mnt/pve/",
            r"|--repository[= ]\S*:",
            r"|(?m:^)[ \t]*pool:[ \t]*",
            r"|\bzpool[ \t]+(?:create|import|export|destroy|status|list|scrub)(?:[ \t]+-\S+)*[ \t]+",
            r"|\bregister\b[^\n]*?--name(?:=|[ \t]+)",
            r"|\btarget[ \t]+\x60",
            r#"|\bmonitor[ \t]+#?\d+[ \t]+["']"#,
            r#"|(?:^|[\s"'=(])//[^/\s]+/"#,
            r")",
            label!()
        ))
        .expect("a valid pattern")
    };

    /// A volume id names its storage first: `nas:vm-100-disk-0`, `nas:vztmpl/debian.tar.zst`.
    VOLUME = {
        Regex::new(concat!(
            r#"(?:^|[\s'"=,(])"#,
            label!(),
            r":(?:(?:vm|base|subvol)-\d+|(?:vztmpl|iso|backup|snippets|import|images|rootdir)/)"
        ))
        .expect("a valid pattern")
    };

    /// Buckets: `s3:https://host/bucket`, restic's `s3:host/bucket`, `s3://bucket`,
    /// rclone's `b2:bucket`.
    BUCKET = {
        Regex::new(concat!(
            r"(?i)(?:\b(?:s3|gs|gcs|r2|wasabi):(?://|https?://[^/\s]+/|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?/)|\bb2:)",
            label!()
        ))
        .expect("a valid pattern")
    };

    /// NetworkManager's connections, named after the network: `nmcli con up id "x"`.
    NMCLI = {
        Regex::new(
            r#"\bnmcli\b[^\n]*?\b(?:id|con-name|ssid|connect)[ \t]+("[^"\n]+"|'[^'\n]+'|[^\s"'-]\S*)"#,
        )
        .expect("a valid pattern")
    };

    /// A quoted name in a YAML configuration: a zone's, a device's (`name: "Am Lindenhof 7"`).
    QUOTED_NAME = Regex::new(r#"\bname:[ \t]*"([^"\n]+)""#).expect("a valid pattern");

    /// Wi-Fi network names, which may hold blanks.
    SSID = {
        Regex::new(r#"(?i)\bssid["']?[ \t]*[=:][ \t]*["']?([^"'\n]*[^"'\s])"#).expect("a valid pattern")
    };

    /// A certificate's subject: `C = DE, L = Rosenheim, O = Huber Home, CN = …`, or with `/`.
    SUBJECT_LINE = Regex::new(r"\bCN[ \t]*=").expect("a valid pattern");

    /// An rclone remote's section, named by its owner: `[b2-haraldsen]` then `type = b2`.
    RCLONE_REMOTE = {
        Regex::new(r"(?m)^\[([A-Za-z0-9][A-Za-z0-9_.-]*)\][ \t]*\n[ \t]*type[ \t]*=")
            .expect("a valid pattern")
    };

    /// A network connection named in a message: `Verbindung mit „x“`, `connection 'x'`, an
    /// organisation (`--org x`), a ZeroTier network's name after its id, a key's owner
    /// (`API key for 'x':`).
    NAMED = {
        Regex::new(concat!(
            r#"(?i)(?:\bverbindung mit|\bconnection)[ \t]+["'„«‚]([^"'“»‘\n]+)["'“»‘]"#,
            r"|(?:^|\s)--org(?:anization)?(?:=|[ \t]+)([A-Za-z0-9][A-Za-z0-9._-]*)",
            // A VLAN named in a message: `VLAN 50 "Bijkeuken"`.
            r#"|\bVLAN[ \t]+\d{1,4}[ \t]+["'„«]([^"'“»\n]+)["'“»]"#,
            r"|\blistnetworks[ \t]+[0-9a-f]{16}[ \t]+([A-Za-z0-9][A-Za-z0-9._-]*)",
            r#"|\bkey for ["']([^"'\n]+)["']"#,
        ))
        .expect("a valid pattern")
    };

    /// `wpa_passphrase SSID PASSPHRASE`: a Wi-Fi network's name and its key, by position.
    WPA_PASSPHRASE = {
        Regex::new(
            r#"\bwpa_passphrase[ \t]+("[^"\n]+"|'[^'\n]+'|[^\s"'<>|;&]+)(?:[ \t]+("[^"\n]+"|'[^'\n]+'|[^\s"'<>|;&]+))?"#,
        )
        .expect("a valid pattern")
    };
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    for re in [&*STORAGE, &*VOLUME, &*BUCKET] {
        for caps in open.captures(re, text) {
            if let Some(m) = caps.get(1) {
                put_label(m, Rank::Label, NAME, found);
            }
        }
    }
    for caps in open.captures(&NAMED, text) {
        if let Some(m) = (1..=5).find_map(|g| caps.get(g)) {
            put_label(m, Rank::Label, NAME, found);
        }
    }
    for re in [&*NMCLI, &*QUOTED_NAME, &*RCLONE_REMOTE] {
        for caps in open.captures(re, text) {
            if let Some(m) = caps.get(1) {
                put_label(m, Rank::Label, NAME, found);
            }
        }
    }
    for caps in open.captures(&WPA_PASSPHRASE, text) {
        if let Some(m) = caps.get(1) {
            put_label(m, Rank::Label, NAME, found);
        }
        super::secrets::put_value(text, caps.get(2), 0, found);
    }
    for caps in open.captures(&SSID, text) {
        if let Some(m) = caps.get(1) {
            put_label(m, Rank::Label, NAME, found);
        }
    }
    for (at, line) in open.lines(&SUBJECT_LINE, text) {
        for caps in SUBJECT_FIELD.captures_iter(line) {
            let (Some(key), Some(value)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            let (rank, placeholder) = match key.as_str() {
                "L" | "ST" => (Rank::Location, "<location>"),
                "CN" if !hosts::is_context_host(value.as_str()) => continue,
                "CN" => (Rank::Host, "<host>"),
                _ => (Rank::Label, NAME),
            };
            let range = at + value.start()..at + value.end();
            if !super::is_placeholder(value.as_str()) {
                found.put(range, rank, placeholder);
            }
        }
    }
}

fn put_label(m: regex::Match<'_>, rank: Rank, placeholder: &'static str, found: &mut Found) {
    let label = m.as_str();
    let lower = label.to_ascii_lowercase();
    if lists::DEFAULT_STORAGES.contains(&lower.as_str())
        || lists::CONTEXT.contains(&lower)
        || lists::COMMON.contains(&lower)
        || super::is_placeholder(label)
    {
        return;
    }
    found.put(m.range(), rank, placeholder);
    found.learn(label, placeholder);
}

#[cfg(test)]
mod tests {
    use crate::scrub;

    #[test]
    fn storages_and_datastores_named_by_people_go() {
        assert_eq!(
            scrub("storage 'nas-heidi-nfs' is not available on node 'pve-k'"),
            "storage '<name>' is not available on node '<host>'"
        );
        assert_eq!(
            scrub("storage 'local-lvm' does not exist"),
            "storage 'local-lvm' does not exist"
        );
        assert_eq!(
            scrub("pvesm add cifs nas-hannah --server x"),
            "pvesm add cifs <name> --server x"
        );
        assert_eq!(
            scrub("/mnt/pve/truenas-gregor/media"),
            "/mnt/pve/<name>/media"
        );
        assert_eq!(
            scrub("scsi0: nas-heidi:vm-100-disk-0,size=32G and local-lvm:vm-100-disk-1"),
            "scsi0: <name>:vm-100-disk-0,size=32G and local-lvm:vm-100-disk-1"
        );
    }

    #[test]
    fn networks_buckets_and_certificate_subjects_go() {
        assert_eq!(
            scrub("802-11-wireless.ssid: Wohnung Fischer 5G"),
            "802-11-wireless.ssid: <name>"
        );
        assert_eq!(
            scrub("restic -r s3:https://s3.example.net/oscar-backups init"),
            "restic -r s3:https://<host>/<name> init"
        );
        assert_eq!(
            scrub("depth=0 C = DE, L = Rosenheim, O = Huber Home, CN = cloud.huber.de"),
            "depth=0 C = DE, L = <location>, O = <name>, CN = <host>"
        );
    }
}
