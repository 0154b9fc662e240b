//! Serial numbers of disks and machines.
//!
//! Proxmox VE names disks by id (`/dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNM0R123456X`),
//! and tools print serials after `Serial Number:` or `serial=`. The whole id after
//! `by-id/` goes: model and serial are one word there. A VM's SMBIOS UUID and generation
//! id name one machine as well.

use regex::Regex;

use super::gate::Open;
use super::span::{Found, Rank};

const SERIAL: &str = "<serial>";

/// The rules that apply to one word on its own: the shapes of device ids.
pub(super) fn find_in_word(text: &str, found: &mut Found) {
    if text.len() < 12 {
        return;
    }
    for m in WWN.find_iter(text) {
        found.put(m.range(), Rank::Serial, SERIAL);
    }
}

rules! {
    SERIALS = {
        Regex::new(concat!(
            r"(?i)(?:/dev/disk/by-id/",
            r"|\b(?:serial(?:[ _-]?(?:number|no\.?))?|service[ _-]?tag|software[ _-]?id|imei|uniqueid)[ \t]*[:=][ \t]*",
            r"|--serial(?:=|[ \t]+)",
            r"|\bS/N:?[ \t]*",
            r"|\bID_SERIAL(?:_SHORT)?=",
            r"|\bsmbios1:[^\n]*?\buuid=",
            r"|\bvmgenid[:=][ \t]*",
            r")",
            r#"([A-Za-z0-9][^\s'",;:/)]*)"#,
        ))
        .expect("a valid pattern")
    };

    /// `Serial 10000000a3b4c5d6`: without a colon, only a value with a digit is a serial
    /// (`serial console` is not).
    SERIAL_WORD = {
        Regex::new(r"(?i)\bserial(?:[ _-]?(?:number|no\.?))?[ \t]+([A-Za-z]*[0-9][A-Za-z0-9._-]*)")
            .expect("a valid pattern")
    };

    /// smartctl's `LU WWN Device Id: 5 0014ee 2b8f3a1c9`, blanks and all.
    WWN_LINE = {
        Regex::new(r"(?im)\bWWN Device Id:[ \t]*([^\n]*[^\s])").expect("a valid pattern")
    };

    /// A disk's row in `lsblk` or `nvme list` printed without its heading: the device,
    /// then its size or generic device, then the serial.
    DISK_ROW = {
        Regex::new(r"(?m)^[ \t]*(?:/dev/)?(?:sd[a-z]+|nvme\d+n\d+|vd[a-z]+|hd[a-z]+)[ \t]+(?:/dev/ng\S+|[\d.]+[KMGTP]B?)[ \t]+([A-Z0-9][A-Z0-9_-]{5,})(?:[ \t]|$)")
            .expect("a valid pattern")
    };

    /// Ids that name one device: world-wide names and NVMe EUIs, disk ids as udev names
    /// them (`ata-WDC_WD40EFRX-68N32N0_WD-WCC7K4HX1L2P`: model, then serial), NVIDIA's GPU
    /// UUIDs and Syncthing's device ids.
    WWN = {
        Regex::new(concat!(
            r"(?i)\b(?:wwn-0x[0-9a-f]{8,}|nvme-eui\.[0-9a-f]{8,}",
            r"|(?:ata|scsi|nvme|usb|sata)-[A-Za-z0-9.-]+_[A-Za-z0-9_.:-]+",
            r"|(?:GPU|MIG)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
            r"|\b[A-Z0-9]{7}(?:-[A-Z0-9]{7}){7}\b",
        ))
        .expect("a valid pattern")
    };

    /// A tracker's IMEI: fifteen digits after `id:`.
    IMEI = Regex::new(r"\bid:[ \t]*(\d{15})\b").expect("a valid pattern");
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    for re in [&*SERIALS, &*SERIAL_WORD, &*WWN_LINE, &*DISK_ROW, &*IMEI] {
        for caps in open.captures(re, text) {
            if let Some(m) = caps.get(1)
                && !super::is_placeholder(m.as_str())
            {
                found.put(m.range(), Rank::Serial, SERIAL);
                found.learn(m.as_str(), SERIAL);
            }
        }
    }
    serial_columns(text, found);
    for m in open.find(&WWN, text) {
        found.put(m.range(), Rank::Serial, SERIAL);
        // A device id ends in the disk's serial, which tools print alone too.
        found.learn(m.as_str(), SERIAL);
    }
}

/// Tables with a `SERIAL` column (lsblk, lshw): the word under the heading is a serial.
/// Columns are aligned, so a value starts where its heading does.
fn serial_columns(text: &str, found: &mut Found) {
    const HEADINGS: [&str; 4] = ["SERIAL", "SN", "WWN", "Serial Number"];
    if !HEADINGS.iter().any(|h| text.contains(h)) {
        return;
    }
    let mut columns: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let at = offset;
        offset += line.len();
        let headings: Vec<usize> = HEADINGS
            .iter()
            .flat_map(|word| {
                line.match_indices(word).filter(|(i, w)| {
                    let before = line[..*i].chars().next_back();
                    let after = line[i + w.len()..].chars().next();
                    before.is_none_or(char::is_whitespace) && after.is_none_or(char::is_whitespace)
                })
            })
            .map(|(i, _)| i)
            .collect();
        // A heading line is words in capitals (`NAME SIZE SERIAL MODEL`, nvme's `Node SN
        // Model` has a few capitalised ones); a row of values is not.
        let capitals = || {
            line.split_whitespace()
                .filter(|w| w.chars().any(char::is_lowercase))
                .count()
        };
        if !headings.is_empty() && capitals() <= 3 {
            columns = headings;
            continue;
        }
        if line.trim().is_empty() {
            columns.clear();
            continue;
        }
        for &col in &columns {
            if col >= line.len() || !line.is_char_boundary(col) {
                continue;
            }
            let starts_here = line[..col]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace);
            let value_len = line[col..]
                .find(char::is_whitespace)
                .unwrap_or(line.len() - col);
            let value = &line[col..col + value_len];
            if starts_here && value_len > 0 && !value.starts_with('<') && value != "-" {
                found.put(at + col..at + col + value_len, Rank::Serial, SERIAL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scrub;

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
