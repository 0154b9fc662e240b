//! The items of a `POST /v1/events` body, counted as they are read.
//!
//! A body of tiny values (`[1,1,1,…]`, or NDJSON of `1` lines) is millions of items in a
//! few megabytes. Decoded whole first and counted after, it would cost hundreds of
//! megabytes for one request. Here reading stops at the first item past the limit.

use std::cell::Cell;
use std::fmt;

use schemas::parse;
use schemas::{Rejection, RejectionCode};
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

/// Why a batch body was refused as a whole.
#[derive(Debug)]
pub enum Refused {
    /// More than the allowed number of items.
    TooMany,
    /// Neither a JSON array nor NDJSON.
    Invalid(Rejection),
}

/// The items of a batch body, each decoded on its own where the format allows (NDJSON),
/// so that one bad line fails only itself.
pub fn split(
    body: &[u8],
    ndjson: bool,
    max: usize,
) -> Result<Vec<Result<Value, Rejection>>, Refused> {
    if ndjson {
        let mut items = Vec::new();
        for line in body
            .split(|b| *b == b'\n')
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        {
            if items.len() == max {
                return Err(Refused::TooMany);
            }
            items.push(parse::parse_json(line));
        }
        return Ok(items);
    }
    let strict = match array(body, max) {
        Ok(items) => return Ok(items.into_iter().map(Ok).collect()),
        Err(Decode::TooMany) => return Err(Refused::TooMany),
        Err(Decode::NotAnArray) => return Err(Refused::Invalid(not_an_array())),
        Err(Decode::Syntax(e)) => e,
    };
    // The repairs a single event gets (schemas::repair), then the same count.
    let invalid = |detail: String| {
        Refused::Invalid(Rejection {
            code: RejectionCode::InvalidJson,
            field: None,
            message: format!("body is not valid JSON and cannot be repaired: {detail}"),
        })
    };
    let repaired = schemas::repair::repair(body).map_err(|e| invalid(e.to_string()))?;
    match array(repaired.as_bytes(), max) {
        Ok(items) => Ok(items.into_iter().map(Ok).collect()),
        Err(Decode::TooMany) => Err(Refused::TooMany),
        Err(Decode::NotAnArray) => Err(Refused::Invalid(not_an_array())),
        Err(Decode::Syntax(_)) => Err(invalid(strict)),
    }
}

fn not_an_array() -> Rejection {
    Rejection {
        code: RejectionCode::NotAnObject,
        field: None,
        message: "a batch must be a JSON array of events, or NDJSON".into(),
    }
}

enum Decode {
    TooMany,
    NotAnArray,
    Syntax(String),
}

/// A JSON array of at most `max` values.
fn array(text: &[u8], max: usize) -> Result<Vec<Value>, Decode> {
    let outcome = Cell::new(Stop::Syntax);
    let mut de = serde_json::Deserializer::from_slice(text);
    let items = Capped {
        max,
        stop: &outcome,
    }
    .deserialize(&mut de)
    .and_then(|items| de.end().map(|()| items));
    items.map_err(|e| match outcome.get() {
        Stop::TooMany => Decode::TooMany,
        Stop::NotAnArray => Decode::NotAnArray,
        Stop::Syntax => Decode::Syntax(e.to_string()),
    })
}

/// Why decoding stopped, beside serde's own error (which only carries a message).
#[derive(Clone, Copy)]
enum Stop {
    TooMany,
    NotAnArray,
    Syntax,
}

struct Capped<'a> {
    max: usize,
    stop: &'a Cell<Stop>,
}

impl<'de> DeserializeSeed<'de> for Capped<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Capped<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            if items.len() == self.max {
                self.stop.set(Stop::TooMany);
                return Err(de::Error::custom("too many events"));
            }
            items.push(item);
        }
        Ok(items)
    }

    // Any other JSON value at the top: not a batch.
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Vec<Value>, A::Error> {
        self.not_an_array()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<Value>, E> {
        self.not_an_array()
    }
}

impl Capped<'_> {
    fn not_an_array<E: de::Error>(&self) -> Result<Vec<Value>, E> {
        self.stop.set(Stop::NotAnArray);
        Err(E::custom("not an array"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(body: &str, ndjson: bool, max: usize) -> Result<usize, &'static str> {
        match split(body.as_bytes(), ndjson, max) {
            Ok(items) => Ok(items.len()),
            Err(Refused::TooMany) => Err("too many"),
            Err(Refused::Invalid(_)) => Err("invalid"),
        }
    }

    #[test]
    fn arrays_and_ndjson_are_counted_up_to_the_limit() {
        assert_eq!(count("[{}, {}, {}]", false, 3), Ok(3));
        assert_eq!(count("[{}, {}, {}, {}]", false, 3), Err("too many"));
        assert_eq!(count("{}\n{}\n\n  \n{}\n", true, 3), Ok(3));
        assert_eq!(count("{}\n{}\n{}\n{}", true, 3), Err("too many"));
        assert_eq!(count("[]", false, 3), Ok(0));
    }

    #[test]
    fn a_flood_of_tiny_values_stops_at_the_limit() {
        let array = format!("[{}1]", "1,".repeat(2_000_000));
        assert_eq!(count(&array, false, 500), Err("too many"));
        let lines = "1\n".repeat(2_000_000);
        assert_eq!(count(&lines, true, 500), Err("too many"));
    }

    #[test]
    fn what_is_not_an_array_is_refused_and_bad_lines_fail_alone() {
        assert_eq!(count("{\"a\": 1}", false, 5), Err("invalid"));
        assert_eq!(count("42", false, 5), Err("invalid"));
        assert_eq!(count("[1, 2", false, 5), Err("invalid"));
        assert_eq!(count("[{}] trailing", false, 5), Err("invalid"));
        let Ok(items) = split(b"{}\nnot json\n{}", true, 5) else {
            panic!("NDJSON with a bad line is still a batch");
        };
        assert!(items[0].is_ok() && items[1].is_err() && items[2].is_ok());
    }

    #[test]
    fn the_clients_json_repairs_apply_to_a_batch() {
        // A raw control character inside a string: invalid JSON, repaired.
        assert_eq!(count("[{\"error\": \"a\tb\"}]", false, 5), Ok(1));
    }
}
