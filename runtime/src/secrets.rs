//! Refusing to start with a secret nobody chose.
//!
//! compose/.env.example ships placeholders (`CHANGE-ME-…`) so that a copy shows what to
//! set. A service started with one would run with a password anyone can read in this
//! repository, so each service checks the secrets it holds before it starts, and names
//! the setting at fault.

/// The shortest admin token accepted: 32 characters, as `openssl rand -hex 16` gives.
pub const MIN_TOKEN_CHARS: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "{key} is still the placeholder of compose/.env.example: set a secret of your own \
         (for example `openssl rand -hex 32`)"
    )]
    Placeholder { key: &'static str },
    #[error(
        "{key} has {chars} characters: a token needs at least {MIN_TOKEN_CHARS} \
         (for example `openssl rand -hex 32`)"
    )]
    TooShort { key: &'static str, chars: usize },
}

/// A password or token, which may be empty (a role without one) but not a placeholder.
/// `key` names the setting, as its environment variable.
pub fn check(key: &'static str, value: &str) -> Result<(), SecretError> {
    let normal: String = value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if normal.starts_with("changeme") {
        return Err(SecretError::Placeholder { key });
    }
    Ok(())
}

/// A bearer token: empty (what it guards is off), or a chosen one of at least
/// [`MIN_TOKEN_CHARS`] characters.
pub fn check_token(key: &'static str, value: &str) -> Result<(), SecretError> {
    check(key, value)?;
    let chars = value.chars().count();
    if chars > 0 && chars < MIN_TOKEN_CHARS {
        return Err(SecretError::TooShort { key, chars });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_refused_in_any_spelling() {
        for value in [
            "CHANGE-ME-admin",
            "change-me",
            " ChangeMe_please",
            "CHANGEME",
        ] {
            assert_eq!(
                check("X", value),
                Err(SecretError::Placeholder { key: "X" }),
                "{value}"
            );
        }
        for value in [
            "",
            "dev-consumer",
            "s3cret-but-not-a-placeholder",
            "exchange-me",
        ] {
            assert_eq!(check("X", value), Ok(()), "{value}");
        }
    }

    #[test]
    fn a_token_is_empty_or_long() {
        assert_eq!(check_token("T", ""), Ok(()));
        assert_eq!(
            check_token("T", "short-token"),
            Err(SecretError::TooShort {
                key: "T",
                chars: 11
            })
        );
        assert_eq!(check_token("T", &"a".repeat(32)), Ok(()));
        assert!(
            SecretError::TooShort {
                key: "T",
                chars: 11
            }
            .to_string()
            .contains("T has 11 characters")
        );
        assert_eq!(
            check_token("T", "CHANGE-ME-admin-token-0123456789abcdef"),
            Err(SecretError::Placeholder { key: "T" })
        );
    }
}
