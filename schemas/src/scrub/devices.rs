//! Serial numbers of disks and machines.
//!
//! Proxmox VE names disks by id (`/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNM0R123456X`),
//! and tools print serials after `Serial Number:` or `serial=`. The whole id after
//! `by-id/` goes: model and serial are one word there. A VM's SMBIOS UUID and generation
//! id name one machine as well.

use std::sync::LazyLock;

use regex::Regex;

use super::span::{Found, Rank};

const SERIAL: &str = "<serial>";

static SERIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?:/dev/disk/by-id/",
        r"|\bserial(?:[ _-]?(?:number|no\.?))?[ \t]*[:=][ \t]*",
        r"|--serial(?:=|[ \t]+)",
        r"|\bS/N:?[ \t]*",
        r"|\bID_SERIAL(?:_SHORT)?=",
        r"|\bsmbios1:[^\n]*?\buuid=",
        r"|\bvmgenid[:=][ \t]*",
        r")",
        r#"([A-Za-z0-9][^\s'",;:/)]*)"#,
    ))
    .expect("a valid pattern")
});

/// `Serial 10000000a3b4c5d6`: without a colon, only a value with a digit is a serial
/// (`serial console` is not).
static SERIAL_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bserial(?:[ _-]?(?:number|no\.?))?[ \t]+([A-Za-z]*[0-9][A-Za-z0-9._-]*)")
        .expect("a valid pattern")
});

/// smartctl's `LU WWN Device Id: 5 0014ee 2b8f3a1c9`, blanks and all.
static WWN_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)\bWWN Device Id:[ \t]*([^\n]*[^\s])").expect("a valid pattern")
});

/// World-wide names and NVMe EUIs are serials in hex.
static WWN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:wwn-0x[0-9a-f]{8,}|nvme-eui\.[0-9a-f]{8,})").expect("a valid pattern")
});

pub(super) fn find(text: &str, found: &mut Found) {
    for re in [&*SERIALS, &*SERIAL_WORD, &*WWN_LINE] {
        for caps in re.captures_iter(text) {
            if let Some(m) = caps.get(1)
                && !super::is_placeholder(m.as_str())
            {
                found.put(m.range(), Rank::Serial, SERIAL);
                found.learn(m.as_str(), SERIAL);
            }
        }
    }
    serial_columns(text, found);
    for m in WWN.find_iter(text) {
        found.put(m.range(), Rank::Serial, SERIAL);
    }
}

/// Tables with a `SERIAL` column (lsblk, lshw): the word under the heading is a serial.
/// Columns are aligned, so a value starts where its heading does.
fn serial_columns(text: &str, found: &mut Found) {
    let mut column: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let heading = line
            .match_indices("SERIAL")
            .find(|(i, _)| {
                let before = line[..*i].chars().next_back();
                let after = line[i + 6..].chars().next();
                before.is_none_or(char::is_whitespace) && after.is_none_or(char::is_whitespace)
            })
            .map(|(i, _)| i);
        if heading.is_some() {
            column = heading;
            continue;
        }
        let Some(col) = column else { continue };
        if line.trim().is_empty() || !line.is_char_boundary(col) || col >= line.len() {
            column = None;
            continue;
        }
        let starts_here = line[..col]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let value_len = line[col..]
            .find(char::is_whitespace)
            .unwrap_or(line.len() - col);
        if starts_here && value_len > 0 {
            let value = &line[col..col + value_len];
            if !super::is_placeholder(value) {
                found.put(at + col..at + col + value_len, Rank::Serial, SERIAL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scrub::scrub;

    #[test]
    fn disk_ids_and_serials_go() {
        assert_eq!(
            scrub(
                "zpool create tank /dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNM0R123456X-part1 x"
            ),
            "zpool create tank /dev/disk/by-id/<serial> x"
        );
        assert_eq!(
            scrub("Serial Number:    S6PTNM0R123456X"),
            "Serial Number:    <serial>"
        );
        assert_eq!(
            scrub("scsi0: local:vm-100-disk-0,serial=ABC123"),
            "scsi0: local:vm-100-disk-0,serial=<serial>"
        );
        assert_eq!(
            scrub("smbios1: uuid=0b9e2c1a-1f2e-4d3c-8b7a-6f5e4d3c2b1a"),
            "smbios1: uuid=<serial>"
        );
        assert_eq!(
            scrub("/dev/disk/by-id/wwn-0x5002538e40a1b2c3"),
            "/dev/disk/by-id/<serial>"
        );
        // A serial console is no serial number.
        assert_eq!(scrub("serial0: socket"), "serial0: socket");
        assert_eq!(scrub("a serial console"), "a serial console");
        assert_eq!(
            scrub("Rev 1.4 Serial 10000000a3b4c5d6"),
            "Rev 1.4 Serial <serial>"
        );
        assert_eq!(
            scrub("LU WWN Device Id: 5 0014ee 2b8f3a1c9\nFirmware"),
            "LU WWN Device Id: <serial>\nFirmware"
        );
        assert_eq!(
            scrub(
                "NAME   SIZE SERIAL     MODEL\nsda    3.6T ZGY1K4QA   ST4000VN008\nsdb    1T            X\n\nok"
            ),
            "NAME   SIZE SERIAL     MODEL\nsda    3.6T <serial>   ST4000VN008\nsdb    1T            X\n\nok"
        );
    }
}
