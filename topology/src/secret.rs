//! A secret setting (a password, a token): read from configuration and written to the
//! environment like a string, but never shown by `Debug`, so that a settings struct
//! logged with `?settings` or printed in a panic keeps it to itself.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that hands it on (a client's credentials).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whether one is set is worth seeing; what it is, never.
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"<redacted>\""
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_whether_it_is_set_and_nothing_more() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
        let settings = crate::store::ClickHouseSettings {
            password: "hunter2".into(),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
        // Serialised (configuration, environment) as the plain string.
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"hunter2\"");
        assert_eq!(
            serde_json::from_str::<Secret>("\"x\"").unwrap().expose(),
            "x"
        );
    }
}
