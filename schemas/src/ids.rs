//! The client's ids: the installation (`random_id`) and the run (`execution_id`).
//!
//! The real client sends a UUID when the host has a source for one, and otherwise
//! whatever it could make: `tool-<epoch>` and `addon-<epoch>` from the host tools and
//! addons, `<uuid>-r<digits>` for a retried attempt (see `misc/api.func` of
//! community-scripts/ProxmoxVE). Refusing those would lose real events, so any id of a
//! safe alphabet is accepted. The columns stay `UUID`: an id that is not a UUID is stored
//! as the UUIDv5 of its text under a fixed namespace, so the same text always gives the
//! same UUID (a run stays one run) and the text itself is never stored.

use uuid::Uuid;

/// The longest id accepted, in characters.
pub const MAX_CHARS: usize = 64;

/// Namespace of the UUIDv5s that stand for ids that are not UUIDs. Fixed for good:
/// another namespace would split every such installation and run in two.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x53d8dfbf_7841_4910_990f_86c7fbb2c2d7);

/// Why a text is not a client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an id may not be empty")]
    Empty,
    #[error("an id may be at most {MAX_CHARS} characters")]
    TooLong,
    #[error("an id may hold only letters, digits, '.', '_' and '-'")]
    Alphabet,
}

/// The stored UUID of a client id: the id itself when it is a UUID (in any case), else
/// its UUIDv5 under [`NAMESPACE`].
pub fn client_id(text: &str) -> Result<Uuid, IdError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > MAX_CHARS {
        return Err(IdError::TooLong);
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(IdError::Alphabet);
    }
    // Only the hyphenated form is read as a UUID: the other forms `Uuid::parse_str`
    // knows (32 bare hex digits) are ids of their own, and keep the text's identity.
    if text.len() == 36
        && let Ok(uuid) = Uuid::try_parse(text)
    {
        return Ok(uuid);
    }
    Ok(Uuid::new_v5(&NAMESPACE, text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_kept_in_any_case() {
        let id = "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f";
        assert_eq!(client_id(id).unwrap().to_string(), id);
        assert_eq!(
            client_id(&id.to_uppercase()).unwrap(),
            client_id(id).unwrap()
        );
    }

    #[test]
    fn the_client_s_other_ids_map_to_stable_uuids() {
        for text in [
            "tool-1732870000",
            "addon-1732870000",
            "5f0c7d3e-2a47-4b8e-9d6f-0a1b2c3d4e5f-r12345",
        ] {
            let a = client_id(text).unwrap();
            assert_eq!(a, client_id(text).unwrap(), "{text}");
            assert_eq!(a.get_version_num(), 5, "{text}");
        }
        assert_ne!(
            client_id("tool-1732870000").unwrap(),
            client_id("addon-1732870000").unwrap()
        );
        // The value is part of the stored data's identity: it must never change.
        assert_eq!(
            client_id("tool-1732870000").unwrap(),
            Uuid::new_v5(&NAMESPACE, b"tool-1732870000")
        );
    }

    #[test]
    fn unsafe_or_oversized_ids_are_refused() {
        assert_eq!(client_id(""), Err(IdError::Empty));
        assert_eq!(client_id("  "), Err(IdError::Empty));
        assert_eq!(client_id(&"a".repeat(65)), Err(IdError::TooLong));
        assert!(client_id(&"a".repeat(64)).is_ok());
        for bad in ["a b", "a/b", "a@b", "$(id)", "é"] {
            assert_eq!(client_id(bad), Err(IdError::Alphabet), "{bad}");
        }
    }
}
