//! Location: a time zone of the tz database (`Europe/Berlin`) says where a host stands.
//! `UTC` and `Etc/…` say nothing of the kind and stay. So do coordinates and the name of
//! a place given as a location.

use std::sync::LazyLock;

use regex::Regex;

use super::gate::Open;
use super::lists;
use super::span::{Found, Rank};

/// A street and its number, as the languages of the hosts write them: `Lindenstraße 14`,
/// `Rue des Tanneurs 7`, `12 allée des Mimosas`, `Calle de Alcalá 42`, `221 Baker Street`.
/// Letters are those of the Latin scripts: `\p{L}` here made the gate's automaton of all
/// rules a thousand times slower. Searched only where [`STREET_WORD`] is.
static STREET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿA-ZÀ-ÖØ-Þ-]*(?i:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|pfad|steig)[ \t]+\d{1,4}[a-z]?\b",
        r"|\b(?i:rue|avenue|allée|boulevard|chemin|impasse|place|quai|route|calle|avenida|plaza|paseo|carrer|via|viale|piazza|corso)[ \t]+(?:(?i:de|du|des|de la|del|de los|de las|della|di)[ \t]+|l'|d')?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿA-ZÀ-ÖØ-Þ'-]*(?:[ \t]+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿA-ZÀ-ÖØ-Þ'-]*)?,?[ \t]+\d{1,4}\b",
        r"|\b\d{1,4}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:rue|avenue|allée|boulevard|chemin|impasse|place|quai|route)[ \t]+(?:(?i:de|du|des|de la)[ \t]+|l'|d')?[a-zß-öø-ÿA-ZÀ-ÖØ-Þ][a-zß-öø-ÿA-ZÀ-ÖØ-Þ'-]*",
        r"|\b\d{1,5}[ \t]+[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+)?[ \t]+(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|Lane|Drive|Boulevard|Court|Terrace)\b",
    ))
    .expect("a valid pattern")
});

/// Words that follow a number of five digits in logs without being a town.
const NOT_TOWNS: &[&str] = &[
    "Stopped",
    "Started",
    "Failed",
    "Success",
    "Warning",
    "Info",
    "Debug",
    "Running",
    "Finished",
    "Completed",
    "Received",
    "Sent",
    "Dropped",
    "Total",
    "Used",
    "Free",
    "Killed",
    "Segmentation",
    "Error",
    "Errors",
    "Done",
    "Terminated",
    "Aborted",
    "Exit",
    "Files",
    "Bytes",
    "Records",
    "Rows",
    "Packets",
    "Requests",
    "Items",
    "Objects",
    "Entries",
    "Lines",
];

rules! {
    TIME_ZONE = {
        let areas = lists::TIME_ZONE_AREAS.join("|");
        Regex::new(&format!(
            r"\b(?:{areas})/[A-Z][A-Za-z_+-]*(?:/[A-Z][A-Za-z_+-]*)?"
        ))
        .expect("a valid pattern")
    };

    /// Coordinates after their key (`latitude: 52.520008`, `home_latitude: …`, `lon=13.2245`),
    /// and in degrees, minutes and seconds (`41 deg 23' 12.34" N`).
    COORDINATE = {
        Regex::new(concat!(
            r#"(?i)(?:^|[^a-z])(?:lat|latitude|lon|lng|long|longitude)(?:["']?[ \t]*[=:][ \t]*["']?|[ \t]+)(-?\d{1,3}\.\d+[NSEW]?)"#,
            r#"|(\d{1,3}[ \t]*(?:deg|°)[ \t]*\d{1,2}'[ \t]*[\d.]+"?[ \t]*[NSEW])"#,
        ))
        .expect("a valid pattern")
    };

    /// A latitude and a longitude side by side, with no key (`40.42351, -3.67284`, a reverse
    /// geocoder's or a photo's position): two decimals with four places or more, within the
    /// ranges of degrees. Versions have fewer places, and are not written in pairs so.
    PAIR = {
        Regex::new(r"(?:^|[^\w.])(-?\d{1,2}\.\d{4,})(?:,[ \t]*|[ \t]+)(-?\d{1,3}\.\d{4,})\b")
            .expect("a valid pattern")
    };

    /// A place by name, quoted after a key that says so: `location "Kleinmachnow, DE"`.
    /// Also a query's parameter or a setting, in the languages of the hosts (`&locatie=x`,
    /// `ORT=x`, `ville=x`).
    PLACE = {
        Regex::new(concat!(
            r#"(?i)\b(?:location|city|town|locality)["']?[ \t]*[=:]?[ \t]*["']([^"'\n]{2,60})["']"#,
            r#"|(?i)(?:^|[?&;\s])(?:location|city|town|locality|ort|stadt|standort|wohnort|ville|lieu|ciudad|localidad|citta|città|locatie|plaats|woonplaats)=([^&\s"'<>]{2,60})"#,
        ))
        .expect("a valid pattern")
    };

    /// Where a device says it stands: SNMP's `sysLocation`, a CDN's `location=fra08`.
    STATED = {
        Regex::new(concat!(
            r#"(?i)\bsys_?location(?:\.0)?(?:[ \t]*=[ \t]*STRING:)?[ \t]+"?([^\n"]*[^\s"])"#,
            r"|\blocation=([A-Za-z0-9_-]+)",
        ))
        .expect("a valid pattern")
    };

    /// The words without which no [`STREET`] is: literals, which the gate finds fast.
    STREET_WORD = {
        Regex::new(concat!(
            r"(?i)straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|pfad|steig",
            r"|rue|avenue|allée|boulevard|chemin|impasse|place|quai|route|calle|avenida|plaza|paseo",
            r"|carrer|via|viale|piazza|corso|street|st\.|road|rd\.|ave\.|lane|drive|court|terrace",
        ))
        .expect("a valid pattern")
    };

    /// A postcode with its town (`35000 Rennes`, `D-79100 Freiburg`).
    POSTCODE = {
        Regex::new(r"(?:^|[\s,;(])(?:[A-Z]-)?\d{5}[ \t]+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{2,}(?:[ -][A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?)")
            .expect("a valid pattern")
    };
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
    if open.can(&STREET_WORD) {
        for m in STREET.find_iter(text) {
            found.put(m.range(), Rank::Location, "<location>");
        }
    }
    for caps in open.captures(&POSTCODE, text) {
        if let Some(town) = caps.get(1)
            && !NOT_TOWNS.contains(&town.as_str())
            && let Some(m) = caps.get(0)
        {
            let start = m.as_str().find(|c: char| c.is_alphanumeric()).unwrap_or(0);
            found.put(m.start() + start..m.end(), Rank::Location, "<location>");
            found.learn(town.as_str(), "<location>");
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
    fn streets_and_towns_go() {
        for (text, expected) in [
            (
                "ADDRESS='Lindenstraße 14, 79100 Freiburg'",
                "ADDRESS='<location>, <location>'",
            ),
            (
                "home: 12 allée des Mimosas, 35000 Rennes",
                "home: <location>, <location>",
            ),
            ("at Rue des Tanneurs 7 in", "at <location> in"),
            ("Calle de Alcalá 42", "<location>"),
            ("221 Baker Street", "<location>"),
            ("Killed process 12345 Killed", "Killed process 12345 Killed"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
        // A precise coordinate given by an option is learned, so its bare mention goes.
        assert_eq!(
            scrub("set --lat 47.99582 --lon 7.84211\nat 47.99582"),
            "set --lat <location> --lon <location>\nat <location>"
        );
    }

    #[test]
    fn places_given_as_parameters_go() {
        assert_eq!(
            scrub("api?key=demo&locatie=Lichtenvoorde\nLichtenvoorde"),
            "api?key=demo&locatie=<location>\n<location>"
        );
    }

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
