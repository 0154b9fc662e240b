//! Location: a time zone of the tz database (`Europe/Berlin`) says where a host stands.
//! `UTC` and `Etc/…` say nothing of the kind and stay. So do coordinates and the name of
//! a place given as a location.

use std::sync::LazyLock;

use regex::Regex;

use super::lists;
use super::span::{Found, Rank};

static TIME_ZONE: LazyLock<Regex> = LazyLock::new(|| {
    let areas = lists::TIME_ZONE_AREAS.join("|");
    Regex::new(&format!(
        r"\b(?:{areas})/[A-Z][A-Za-z_+-]*(?:/[A-Z][A-Za-z_+-]*)?"
    ))
    .expect("a valid pattern")
});

/// Coordinates after their key: `latitude: 52.520008`, `lon=13.2245`.
static COORDINATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:lat|latitude|lon|lng|long|longitude)["']?[ \t]*[=:][ \t]*["']?(-?\d{1,3}\.\d+[NSEW]?)"#)
        .expect("a valid pattern")
});

/// A place by name, quoted after a key that says so: `location "Kleinmachnow, DE"`.
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:location|city|town|locality)["']?[ \t]*[=:]?[ \t]*["']([^"'\n]{2,60})["']"#,
    )
    .expect("a valid pattern")
});

pub(super) fn find(text: &str, found: &mut Found) {
    for m in TIME_ZONE.find_iter(text) {
        found.put(m.range(), Rank::Location, "<location>");
    }
    for re in [&*COORDINATE, &*PLACE] {
        for caps in re.captures_iter(text) {
            if let Some(m) = caps.get(1)
                && !super::is_placeholder(m.as_str())
            {
                found.put(m.range(), Rank::Location, "<location>");
                for word in m.as_str().split([',', ' ']) {
                    found.learn(word, "<location>");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scrub::scrub;

    #[test]
    fn time_zones_go() {
        assert_eq!(
            scrub("timedatectl set-timezone Europe/Berlin"),
            "timedatectl set-timezone <location>"
        );
        assert_eq!(
            scrub("/usr/share/zoneinfo/America/Argentina/Buenos_Aires"),
            "/usr/share/zoneinfo/<location>"
        );
        assert_eq!(scrub("TZ=Etc/UTC"), "TZ=Etc/UTC");
    }

    #[test]
    fn coordinates_and_named_places_go() {
        assert_eq!(
            scrub("latitude: 52.520008N\n  longitude: 13.404954"),
            "latitude: <location>\n  longitude: <location>"
        );
        assert_eq!(
            scrub(r#"location "Kleinmachnow, DE" lat=52.4072"#),
            r#"location "<location>" lat=<location>"#
        );
    }
}
