//! Location: a time zone of the tz database (`Europe/Berlin`) says where a host stands.
//! `UTC` and `Etc/…` say nothing of the kind and stay. So do coordinates and the name of
//! a place given as a location.

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::lists;
use super::span::{Found, Rank};

static TIME_ZONE: LazyLock<Regex> = LazyLock::new(|| {
    let areas = lists::TIME_ZONE_AREAS.join("|");
    Regex::new(&format!(
        r"\b(?:{areas})/[A-Z][A-Za-z_+-]*(?:/[A-Z][A-Za-z_+-]*)?"
    ))
    .expect("a valid pattern")
});

/// Coordinates after their key (`latitude: 52.520008`, `home_latitude: …`, `lon=13.2245`),
/// and in degrees, minutes and seconds (`41 deg 23' 12.34" N`).
static COORDINATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)(?:^|[^a-z])(?:lat|latitude|lon|lng|long|longitude)["']?[ \t]*[=:][ \t]*["']?(-?\d{1,3}\.\d+[NSEW]?)"#,
        r#"|(\d{1,3}[ \t]*(?:deg|°)[ \t]*\d{1,2}'[ \t]*[\d.]+"?[ \t]*[NSEW])"#,
    ))
    .expect("a valid pattern")
});

/// A latitude and a longitude side by side, with no key (`40.42351, -3.67284`, a reverse
/// geocoder's or a photo's position): two decimals with four places or more, within the
/// ranges of degrees. Versions have fewer places, and are not written in pairs so.
static PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w.])(-?\d{1,2}\.\d{4,})(?:,[ \t]*|[ \t]+)(-?\d{1,3}\.\d{4,})\b")
        .expect("a valid pattern")
});

/// Where a device says it stands: SNMP's `sysLocation`, a CDN's `location=fra08`.
static STATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)\bsys_?location(?:\.0)?(?:[ \t]*=[ \t]*STRING:)?[ \t]+"?([^\n"]*[^\s"])"#,
        r"|\blocation=([A-Za-z0-9_-]+)",
    ))
    .expect("a valid pattern")
});

/// A place by name, quoted after a key that says so: `location "Kleinmachnow, DE"`.
static PLACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:location|city|town|locality)["']?[ \t]*[=:]?[ \t]*["']([^"'\n]{2,60})["']"#,
    )
    .expect("a valid pattern")
});

/// The rules of this module, for the gate that tells which can match (`gate.rs`).
pub(super) fn rules() -> Vec<&'static Regex> {
    vec![&*TIME_ZONE, &*COORDINATE, &*PAIR, &*PLACE, &*STATED]
}

pub(super) fn find(text: &str, found: &mut Found, open: &Open<'_>) {
    for m in open.find(&TIME_ZONE, text) {
        found.put(m.range(), Rank::Location, "<location>");
    }
    for caps in open.captures(&PAIR, text) {
        let degrees = |g: usize, max: f64| {
            caps.get(g)
                .filter(|m| m.as_str().parse::<f64>().is_ok_and(|v| v.abs() <= max))
        };
        if let (Some(lat), Some(lon)) = (degrees(1, 90.0), degrees(2, 180.0)) {
            found.put(lat.range(), Rank::Location, "<location>");
            found.put(lon.range(), Rank::Location, "<location>");
        }
    }
    for re in [&*COORDINATE, &*PLACE, &*STATED] {
        for caps in open.captures(re, text) {
            if let Some(m) = (1..=2).find_map(|g| caps.get(g))
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
    use crate::scrub;

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
        // A pair with no key; a version and a pair out of range stay.
        assert_eq!(
            scrub("reverse geocode 40.42351, -3.67284 failed"),
            "reverse geocode <location>, <location> failed"
        );
        assert_eq!(
            scrub("revgeo: 40.42351,-3.67284 ->"),
            "revgeo: <location>,<location> ->"
        );
        assert_eq!(scrub("upgrade 1.2 3.4567"), "upgrade 1.2 3.4567");
        assert_eq!(scrub("at 95.12345 200.12345"), "at 95.12345 200.12345");
    }
}
