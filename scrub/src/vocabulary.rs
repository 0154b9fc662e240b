//! The words the vocabulary net recognises: about 6.7 million, in a finite-state map read in
//! place from the binary (scrub/data/vocabulary.fst). scrub/vocabulary/collect.py says
//! which public sources they come from, and scrub/vocabulary/build.sh rebuilds the set.

use std::sync::LazyLock;

/// The compiled map of word to flags. `fst::Map::new` only checks the header: no parse,
/// no allocation.
static WORDS: LazyLock<Option<fst::Map<&'static [u8]>>> =
    LazyLock::new(|| fst::Map::new(&include_bytes!("../data/vocabulary.fst")[..]).ok());

/// What the vocabulary knows of a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// A word of a language, a package or the trade.
    Word,
    /// A word that English also writes as a name (`will`, `john`): kept alone, but no
    /// warrant for a compound made of it (`john-smith-nas`).
    AlsoAName,
}

/// What `word` (lower case) is, if the vocabulary has it. A set that cannot be read (a
/// corrupt build) knows nothing, so that the net then replaces every word: the failure
/// is visible, and nothing unrecognised is stored.
pub fn lookup(word: &str) -> Option<Known> {
    let flags = WORDS.as_ref()?.get(word)?;
    Some(if flags & 1 == 1 {
        Known::AlsoAName
    } else {
        Known::Word
    })
}

/// Whether `word` (lower case) names a tool: a Debian package or command, a script's
/// app, a part of one, or a word of the trade (`curl`, `meson`, `ollama`).
pub fn names_a_tool(word: &str) -> bool {
    WORDS
        .as_ref()
        .and_then(|words| words.get(word))
        .is_some_and(|flags| flags & 2 == 2)
}

/// Whether `word` (lower case) is a word of one of the languages, not only a tool's name
/// or the trade's: `example` and `falcon` are, `syncthing` and `pnpm` are not.
pub fn is_a_language_word(word: &str) -> bool {
    WORDS
        .as_ref()
        .and_then(|words| words.get(word))
        .is_some_and(|flags| flags & 4 == 4)
}

/// Whether `word` (lower case) is in the vocabulary at all.
pub fn contains(word: &str) -> bool {
    lookup(word).is_some()
}

/// How many words the set holds (0 if it cannot be read).
pub fn len() -> usize {
    WORDS.as_ref().map_or(0, fst::Map::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_loads_and_holds_each_source() {
        assert!(len() > 500_000, "{}", len());
        for word in [
            // English, German, French, Spanish
            "unable",
            "verbindung",
            "échoué",
            "conexión",
            // Debian's packages
            "libssl-dev",
            "docker.io",
            // the exit codes' meanings, the trade's words
            "builtins",
            "journalctl",
        ] {
            assert!(contains(word), "{word}");
        }
    }

    #[test]
    fn names_are_no_words_or_are_marked() {
        // The large English lists write some names in lower case (`jenny`): not kept.
        for name in ["okonkwo", "hkowalski", "jdoe", "jenny", "benjamin"] {
            assert_eq!(lookup(name), None, "{name}");
        }
        // English words that are names too.
        for both in ["john", "will", "rose"] {
            assert_eq!(lookup(both), Some(Known::AlsoAName), "{both}");
        }
        assert_eq!(lookup("unable"), Some(Known::Word));
    }

    #[test]
    fn tools_are_marked() {
        for tool in ["curl", "meson", "nginx", "jellyfin"] {
            assert!(names_a_tool(tool), "{tool}");
        }
        for word in ["gallardo", "werkbank", "unable"] {
            assert!(!names_a_tool(word), "{word}");
        }
        for word in ["example", "falcon", "unable", "verbindung"] {
            assert!(is_a_language_word(word), "{word}");
        }
        for tool in ["syncthing", "crowdsec", "jellyfin", "pnpm"] {
            assert!(!is_a_language_word(tool), "{tool}");
        }
    }

    #[test]
    fn places_are_no_words() {
        // German lists its towns as nouns; English capitalises them, so they are left out.
        for place in ["wuppertal", "bielefeld", "innsbruck"] {
            assert_eq!(lookup(place), None, "{place}");
        }
    }
}
