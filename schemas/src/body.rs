//! The fields of a client body, as [`crate::parse`] reads them.
//!
//! Two sources give the same view. [`Known`] decodes a body straight into the fields an
//! event has, borrowing strings from the body and keeping no other key: it is ingest's
//! hot path. A `serde_json` object serves the batch endpoint and the bodies that
//! need repair. Under load, decoding through `serde_json::Value` (an owned string for
//! every key and value, and a hashed map) was about half of what parsing cost.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// One value of a body, as the parser distinguishes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    /// An array or an object: never a valid field value.
    Compound,
}

/// Where the parser reads a body's fields from.
pub trait Source {
    /// The value of `key`; the last one when the key is repeated, as JSON parsers do.
    fn field(&self, key: &'static str) -> Option<Scalar<'_>>;
}

impl Source for Map<String, Value> {
    fn field(&self, key: &'static str) -> Option<Scalar<'_>> {
        Some(match self.get(key)? {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Number(n.clone()),
            Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Scalar::Compound,
        })
    }
}

/// Every key an event is built from. A key read by the parser but missing here would
/// read as absent from the fast path only; the debug assertion in [`Known::field`] makes
/// every test that parses an event catch that.
pub const KEYS: [&str; 33] = [
    "random_id",
    "execution_id",
    "type",
    "nsapp",
    "status",
    "ct_type",
    "disk_size",
    "core_count",
    "ram_size",
    "os_type",
    "os_version",
    "pve_version",
    "method",
    "exit_code",
    "error",
    "error_category",
    "install_duration",
    "cpu_vendor",
    "cpu_model",
    "gpu_vendor",
    "gpu_model",
    "gpu_passthrough",
    "ram_speed",
    "arch",
    "platform",
    "has_arm",
    "repo_source",
    "repo_slug",
    "payload_version",
    "kernel_version",
    "app_version",
    "failed_command",
    "failed_line",
];

fn index(key: &str) -> Option<usize> {
    KEYS.iter().position(|k| *k == key)
}

/// A JSON object decoded into the fields of [`KEYS`]; the values of other keys are
/// checked and dropped.
#[derive(Debug)]
pub struct Known<'a> {
    values: [Option<Scalar<'a>>; KEYS.len()],
}

impl Default for Known<'_> {
    fn default() -> Self {
        Self {
            values: std::array::from_fn(|_| None),
        }
    }
}

impl Source for Known<'_> {
    fn field(&self, key: &'static str) -> Option<Scalar<'_>> {
        let Some(i) = index(key) else {
            debug_assert!(
                false,
                "the parser reads {key:?}, which is not in body::KEYS"
            );
            return None;
        };
        Some(match self.values[i].as_ref()? {
            Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
            other => other.clone(),
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Known<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<'a>(std::marker::PhantomData<Known<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for ObjectVisitor<'a> {
            type Value = Known<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Known<'a>, M::Error> {
                let mut known = Known::default();
                while let Some(KeyIndex(slot)) = map.next_key()? {
                    // Other keys' values are decoded too, and dropped: skipping them
                    // unchecked would accept bodies (a lone surrogate escape, a number
                    // out of range) that `serde_json::Value` and so the batch path refuse.
                    let value = map.next_value::<Scalar<'a>>()?;
                    if let Some(i) = slot {
                        known.values[i] = Some(value);
                    }
                }
                Ok(known)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

/// A key, as its place in [`KEYS`]; decoded without allocating, escaped or not.
struct KeyIndex(Option<usize>);

impl<'de> Deserialize<'de> for KeyIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = KeyIndex;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyIndex, E> {
                Ok(KeyIndex(index(key)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<Scalar<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }

            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(b))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(n.into()))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(n.into()))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar<'a>, E> {
                // JSON has no NaN or infinity, so this is always a number; as in `Value`.
                Ok(Number::from_f64(n).map_or(Scalar::Null, Scalar::Number))
            }

            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(s)))
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: de::Error>(self, s: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(s)))
            }

            // Nested values are decoded, not skipped, for the reason given in `Known`.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                while seq.next_element::<Scalar>()?.is_some() {}
                Ok(Scalar::Compound)
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Scalar<'a>, M::Error> {
                while map.next_entry::<KeyIndex, Scalar>()?.is_some() {}
                Ok(Scalar::Compound)
            }
        }

        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sources_read_the_same_fields() {
        let body = r#"{"nsapp":"a\"b","type":"lxc","ct_type":1,"has_arm":false,"error":null,
            "unknown":{"deep":[1,2,{"x":"y"}]},"disk_size":[8],"nsapp":"last","o\u0073_type":"escaped key",
            "os_version":12.5,"core_count":-3}"#;
        let known: Known = serde_json::from_str(body).expect("an object");
        let map: Map<String, Value> = serde_json::from_str(body).expect("an object");
        for key in KEYS {
            assert_eq!(known.field(key), map.field(key), "{key}");
        }
        assert_eq!(known.field("nsapp"), Some(Scalar::Str("last".into())));
        assert_eq!(known.field("disk_size"), Some(Scalar::Compound));
        assert_eq!(
            known.field("os_type"),
            Some(Scalar::Str("escaped key".into()))
        );
        assert_eq!(known.field("random_id"), None);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let body = r#"{"nsapp":"jellyfin","error":"a \"quoted\" word"}"#;
        let known: Known = serde_json::from_str(body).expect("an object");
        assert!(matches!(
            known.values[3],
            Some(Scalar::Str(Cow::Borrowed("jellyfin")))
        ));
        assert!(
            matches!(&known.values[14], Some(Scalar::Str(Cow::Owned(s))) if s == "a \"quoted\" word")
        );
    }

    #[test]
    fn only_an_object_is_known() {
        assert!(serde_json::from_str::<Known>("[1]").is_err());
        assert!(serde_json::from_str::<Known>("\"x\"").is_err());
        assert!(serde_json::from_str::<Known>("{\"nsapp\": }").is_err());
    }

    #[test]
    fn other_keys_are_held_to_json_as_strictly_as_value_does() {
        for body in [
            r#"{"other": "a \ud800 b"}"#,
            r#"{"other": ["\ud800"]}"#,
            r#"{"other": {"\ud800": 1}}"#,
            r#"{"other": 1e999}"#,
        ] {
            assert!(serde_json::from_str::<Value>(body).is_err(), "{body}");
            assert!(serde_json::from_str::<Known>(body).is_err(), "{body}");
        }
    }
}
