//! The vocabulary net: after the rules, every word of stored free text is kept only if
//! it is recognised as safe; any other becomes `<word>`.
//!
//! The rules each close one shape of what the record excludes, and a shape nobody wrote a
//! rule for leaks (a host named in a sentence of a language no rule reads, a secret given
//! by position). A list of what is allowed has no such gap: what the net does not
//! recognise is replaced, whatever it was. Recognised means (`recognised`):
//! - a word of English, German, French, Spanish, Italian, Dutch, Polish or Portuguese, a
//!   Debian package's or command's name, a script's app, a word of the
//!   exit codes' meanings or of the trade ([`crate::vocabulary`]), or a word the event
//!   itself vouches for (its app's name);
//! - or a safe shape: a number of at most ten digits, a version (`3.11.2`,
//!   `6.8.12-15-pve`), a word with a version or device number (`libssl1.1`, `python3.11`,
//!   `eth0`, `nvme0n1`), a short product code (`i5-8500t`, `n100`), a name that is a
//!   compound of recognised words (`home-assistant`, `docker-compose.yml`,
//!   `ModuleNotFoundError`), one or two letters, a placeholder;
//! - or a tool's typo: a word with one letter dropped inside it (`listner`);
//! - or a name that its context shows to be the software's own: a package where a
//!   package manager names it, code where a trace or a runtime names it (`code`), a
//!   kernel parameter, a field name of a `key=value` record, a word made with a prefix
//!   (`unconfigured`), a tool's daemon (`tailscaled`).
//!
//! A path is its components and a URL its parts, each judged alone, so `/etc/nginx/` and
//! `deb.debian.org` are kept and a host the rules missed is not. A word that English also
//! writes as a name (`will`) is kept alone but vouches for no compound: `john-smith-nas`
//! is replaced.

use crate::vocabulary::{self, Known};

/// What an unrecognised word becomes.
pub const PLACEHOLDER: &str = "<word>";

/// `text` with every word that is not recognised replaced by [`PLACEHOLDER`]; `keep`
/// are words the event vouches for (its app's name and the parts of it).
pub fn filter(text: &str, keep: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // A placeholder of the rules, or of an earlier pass, stays as it is.
        if rest.starts_with('<')
            && let Some(p) = crate::PLACEHOLDERS.iter().find(|p| rest.starts_with(**p))
        {
            out.push_str(p);
            rest = &rest[p.len()..];
            continue;
        }
        // A percent escape (`%2F` of `@esbuild%2flinux-x64`) stands for a character: the
        // word after it is judged alone, not glued to the escape's hex digits.
        if let Some(escape) = percent_escape(rest) {
            out.push_str(escape);
            rest = &rest[escape.len()..];
            continue;
        }
        let word_len = rest
            .char_indices()
            .find(|(_, c)| !is_word_char(*c))
            .map_or(rest.len(), |(i, _)| i);
        if word_len == 0 {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let (token, after) = rest.split_at(word_len);
        // Sentence punctuation and option dashes around a word are not part of it.
        let core = token.trim_matches(|c| matches!(c, '.' | '-' | '+' | '_'));
        if core.is_empty()
            || option(token, core)
            || recognised(core, keep)
            || public_digest(&out, core, after)
            || npm_scope(&out, after)
            || library_offset(&out, core)
            || package(&out, core, after)
            || code(&out, core, after)
            || field_key(&out, core, after)
        {
            out.push_str(token);
        } else {
            let start = token.find(core).unwrap_or(0);
            out.push_str(&token[..start]);
            out.push_str(PLACEHOLDER);
            out.push_str(&token[start + core.len()..]);
        }
        rest = after;
    }
    out
}

/// A URL's percent escape at the start of `rest` (`%2F`, `%20`).
fn percent_escape(rest: &str) -> Option<&str> {
    let b = rest.as_bytes();
    (b.len() >= 3 && b[0] == b'%' && b[1].is_ascii_hexdigit() && b[2].is_ascii_hexdigit())
        .then(|| &rest[..3])
}

/// Where a crash happened in a shared library, as the kernel reports a segfault
/// (`libc.so.6[7f3a1c228000+155000]`): a load address and an offset, in hex.
fn library_offset(before: &str, word: &str) -> bool {
    crate::network::after_library(before)
        && word
            .split('+')
            .all(|p| (1..=16).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An npm scope (`@nestjs` of `@nestjs/core@10.4.15`): an `@` where a word starts, and
/// a package after the `/`. A scope is an organisation that publishes to a public
/// registry; a user's `@` follows the name (`alice@nas`), never precedes it.
fn npm_scope(before: &str, after: &str) -> bool {
    before.strip_suffix('@').is_some_and(|b| {
        b.is_empty() || b.ends_with([' ', '\t', '\n', '"', '\'', '`', '(', '[', ','])
    }) && after.starts_with('/')
}

/// The directories package managers install a package into under its own name: npm's
/// and Python's.
const PACKAGE_DIRECTORIES: &[&str] = &["node_modules", "site-packages", "dist-packages"];

/// A package, as a package manager names it: the directory it is installed into
/// (`node_modules/knex/`, `site-packages/chromadb/`), or a name pinned to a version
/// (`espressif32@5.4.0`, `numpy==2.1.3`, `pict-rs v0.5.17`, `plexmediaserver
/// (1.41.3.9314-a0bfb8370)`). A package is published under its name for anyone to
/// install; a person is not pinned to a version. The name must look like a package's
/// (lower-case letters, digits, joiners) and be no one's name, and an address after it
/// is no version (`alice@10.0.0.5`, `nas (10.0.0.5)`).
fn package(before: &str, word: &str, after: &str) -> bool {
    // A scope's `@` is the last thing before its name (`node_modules/@nestjs`).
    let directory = installed(before.strip_suffix('@').unwrap_or(before));
    (package_name(&word.to_lowercase()) && (directory || pinned(after)))
        || package_file_path(before, word)
}

/// A file or directory further inside an installed package
/// (`node_modules/zigbee-herdsman/src/adapter/z-stack/znp/znp.ts`): the package's own
/// files, as it was published.
fn package_file_path(before: &str, word: &str) -> bool {
    // A path ends where a list of paths or a URL's query would go on (`PATH=…:…`).
    let path = tail(before, 512)
        .rsplit(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '"' | '\'' | '(' | '`' | ':' | ';' | ',' | '=' | '?' | '#'
                )
        })
        .next()
        .unwrap_or_default();
    path.ends_with('/')
        && PACKAGE_DIRECTORIES.iter().any(|d| {
            path.split('/')
                .position(|component| component == *d)
                // The package's name is the rule's above; its files are below it.
                .is_some_and(|at| path.split('/').count() > at + 2)
        })
        && word.len() <= 64
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Code, where a trace or a runtime names it: a function in a stack frame (`at
/// org.keycloak.quarkus.deployment.KeycloakProcessor.configureProviders(`, `at Znp.open
/// (`), an exception's class (`io.quarkus.builder.BuildException`,
/// `org.apache.catalina.LifecycleException`), a JVM's option (`-XX:+UseConcMarkSweepGC`),
/// or a crate cargo could not compile. These name the software's own packages, classes
/// and functions, which it was published with; a person or a host has no place in them.
fn code(before: &str, word: &str, after: &str) -> bool {
    if crate::hosts::stack_frame(before, after) {
        return frame_function(word);
    }
    if before.ends_with("-XX:") {
        // HotSpot's options are capitalised words run together (`UseG1GC`).
        return word.len() <= 64
            && word.starts_with(|c: char| c.is_ascii_uppercase())
            && word.bytes().all(|b| b.is_ascii_alphanumeric());
    }
    if before.ends_with("could not compile `") && after.starts_with('`') {
        return package_name(&word.to_lowercase());
    }
    exception_class(word)
        || scope_path(before, word, after)
        || source_line(word, after)
        || java_class_file(word, after)
}

/// A name of a language's identifiers: a letter or `_`, then letters, digits and `_`.
fn identifier(segment: &str) -> bool {
    (1..=64).contains(&segment.len())
        && segment.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A class's packages, which a project names after itself or after its domain written
/// backwards (`org.apache.catalina`): each a word the net recognises, and together no
/// host (`de.okonkwofamily`, `nas.smith.lan` are someone's).
fn known_packages(packages: &str) -> bool {
    packages
        .split('.')
        .all(|segment| identifier(segment) && segment_recognised(segment, &[]))
        && crate::hosts::host_prefix(packages).is_none()
}

/// The function of a stack frame: `[packages.]Class.method` (Java, .NET), `Class.method`
/// or `function` (JavaScript). The class and the method are the code's own names; the
/// packages must be known ([`known_packages`]), and a function alone must be a word.
fn frame_function(word: &str) -> bool {
    let segments: Vec<&str> = word.split('.').collect();
    if !segments.iter().all(|s| identifier(s)) {
        return false;
    }
    match segments.as_slice() {
        [function] => segment_recognised(function, &[]),
        [class, _method] => {
            class.starts_with(|c: char| c.is_ascii_uppercase()) || segment_recognised(class, &[])
        }
        [.., class, _method] => {
            let packages = &word[..word.len() - class.len() - _method.len() - 2];
            (class.starts_with(|c: char| c.is_ascii_uppercase()) || segment_recognised(class, &[]))
                && known_packages(packages)
        }
        [] => false,
    }
}

/// A part of a path of scopes, as C++, PHP, Ruby and Rust write them
/// (`rcube_charset::clean()`, `Mixlib::ShellOut`). An address's `::` joins hex digits,
/// and the address is the rules'; a part with a letter past `f` or a `_` is none.
fn scope_path(before: &str, word: &str, after: &str) -> bool {
    let joined = after
        .strip_prefix("::")
        .is_some_and(|a| a.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        || before
            .strip_suffix("::")
            .is_some_and(|b| b.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
    joined
        && word.len() <= 64
        && word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && word
            .bytes()
            .any(|b| matches!(b, b'g'..=b'z' | b'G'..=b'Z' | b'_'))
}

/// The extensions of source files that a program names with a line (`flag.go:63`).
const SOURCE_EXTENSIONS: &[&str] = &[
    "c", "cc", "cpp", "cxx", "h", "hpp", "go", "rs", "py", "php", "js", "mjs", "cjs", "ts", "java",
    "kt", "rb", "cs", "erl", "ex", "lua", "zig", "swift",
];

/// A source file at a line, as a program reports where it failed
/// (`typesense_server_utils.cpp:125`, `rcube_charset.php:312`): a file of its own
/// source, named as it was published.
fn source_line(word: &str, after: &str) -> bool {
    let Some((stem, extension)) = word.rsplit_once('.') else {
        return false;
    };
    SOURCE_EXTENSIONS.contains(&extension)
        && after
            .strip_prefix(':')
            .is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit()))
        && (1..=64).contains(&stem.len())
        && stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A Java class as the JVM names one it cannot load, its packages joined by `/`
/// (`hudson/remoting/Launcher has been compiled by a more recent version of the Java
/// Runtime`).
fn java_class_file(word: &str, after: &str) -> bool {
    const COMPILED: &str = " has been compiled by a more recent version";
    let rest = after
        .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '$'));
    rest.starts_with(COMPILED)
        && word.len() <= 64
        && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A qualified class of an error, as Java, .NET and Python name them: known packages,
/// then a class that ends in `Exception` or `Error`
/// (`org.apache.catalina.LifecycleException`, `requests.exceptions.ConnectionError`).
fn exception_class(word: &str) -> bool {
    let Some((packages, class)) = word.rsplit_once('.') else {
        return false;
    };
    identifier(class)
        && class.starts_with(|c: char| c.is_ascii_uppercase())
        && ["Exception", "Error"]
            .iter()
            .any(|end| class.len() > end.len() && class.ends_with(end))
        && known_packages(packages)
}

/// A field's name in a record of `key=value` pairs (an audit record's `tclass=`,
/// `scontext=`; logfmt's `caller=`): lower-case letters, at most sixteen, after a space
/// or at a line's start, on a line with at least two more pairs after a space whose names
/// are words. A program writes these
/// records, with names of its own; the values are words of their own. A list of
/// `name=password` pairs joined by commas (`--users weber=pw1,anna=pw2`) is no record.
fn field_key(before: &str, word: &str, after: &str) -> bool {
    if !after.starts_with('=')
        || !field_name(word)
        || !(before.is_empty() || before.ends_with([' ', '\t', '\n']))
    {
        return false;
    }
    // Within a few hundred bytes either side, so that a long line costs no more.
    let line_before = tail(before, 256).rsplit('\n').next().unwrap_or_default();
    let line_after = head(after, 256).split('\n').next().unwrap_or_default();
    record_fields(line_before) + record_fields(line_after) >= 2
}

fn field_name(word: &str) -> bool {
    (2..=16).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// How many fields of a `key=value` record `line` holds whose names are words the net
/// knows (`pid=`, `comm=`, `level=`): keys after a space. A list of names and values
/// (`okonkwo=1 adebayo=2`) has none.
fn record_fields(line: &str) -> usize {
    line.split([' ', '\t'])
        .filter(|chunk| {
            chunk
                .split_once('=')
                .is_some_and(|(key, _)| field_name(key) && recognised(key, &[]))
        })
        .count()
}

/// The last `n` bytes of `s` or fewer, on a character's boundary.
fn tail(s: &str, n: usize) -> &str {
    let mut at = s.len().saturating_sub(n);
    while !s.is_char_boundary(at) {
        at += 1;
    }
    &s[at..]
}

/// The first `n` bytes of `s` or fewer, on a character's boundary.
fn head(s: &str, n: usize) -> &str {
    let mut at = n.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

/// A disk as the kernel names it without a number (`sda`, `vdb`, `xvdf`).
fn block_device(lower: &str) -> bool {
    ["sd", "vd", "hd", "xvd"].iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|rest| {
            (1..=2).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase())
        })
    })
}

/// The architectures Debian builds for, as a package file names them.
const DEBIAN_ARCHITECTURES: &[&str] = &[
    "amd64", "arm64", "armhf", "armel", "i386", "all", "riscv64", "ppc64el", "s390x",
];

/// A package's file as Debian and Python name it, which pins the package to a version:
/// `plexmediaserver_1.41.3.9314-a0bfb8370_amd64.deb` (name, version, architecture;
/// `%3a` is an epoch's colon), `numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.whl`
/// (name, version, then tags).
fn package_file(lower: &str) -> bool {
    if let Some(stem) = lower.strip_suffix(".deb") {
        let mut fields = stem.split('_');
        let (Some(name), Some(version_field), Some(arch), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        return package_name(name)
            && DEBIAN_ARCHITECTURES.contains(&arch)
            && version(&version_field.replace("%3a", ":"));
    }
    if let Some(stem) = lower.strip_suffix(".whl") {
        // The name's own dashes are underscores in a wheel's name.
        let mut fields = stem.split('-');
        let (Some(name), Some(version_field)) = (fields.next(), fields.next()) else {
            return false;
        };
        return package_name(name) && version(version_field) && !ipv4(version_field);
    }
    false
}

/// Whether `lower` could be a package's name and is no one's: lower-case letters,
/// digits and joiners, a letter among them, and not a word English writes as a name.
fn package_name(lower: &str) -> bool {
    (2..=64).contains(&lower.len())
        && lower.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'+')
        })
        && lower.bytes().any(|b| b.is_ascii_lowercase())
        && vocabulary::lookup(lower) != Some(Known::AlsoAName)
}

/// Where the public registries serve a package under its name
/// (`https://registry.npmjs.org/prisma`, `https://static.crates.io/crates/tokio/…`).
const REGISTRY_PATHS: &[&str] = &[
    "://registry.npmjs.org",
    "://registry.yarnpkg.com",
    "://www.npmjs.com/package",
    "://cdn.jsdelivr.net/npm",
    "://unpkg.com",
    "://crates.io/crates",
    "://static.crates.io/crates",
    "://docs.rs",
    "://pypi.org/project",
    "://pypi.org/simple",
    "://rubygems.org/gems",
    "://packagist.org/packages",
    "://repo.packagist.org/p2",
    "://pkg.go.dev",
];

/// Whether `before` ends in a package directory or a registry's path, so that the word
/// after is a package.
fn installed(before: &str) -> bool {
    let Some(dir) = before.strip_suffix('/') else {
        return false;
    };
    // A directory's name is short: looking further back would make a long path cost
    // the square of its length.
    let dir = tail(dir, 512);
    // npm's scoped packages sit one level deeper (`node_modules/@nestjs/core/`).
    let dir = match dir.rsplit_once('/') {
        Some((up, scope)) if scope.starts_with('@') => up,
        _ => dir,
    };
    // The directory whole (`node_modules`, not `my_node_modules`).
    let last = dir
        .rsplit(|c: char| c == '/' || c.is_whitespace() || matches!(c, '"' | '\'' | '('))
        .next()
        .unwrap_or(dir);
    PACKAGE_DIRECTORIES.contains(&last) || REGISTRY_PATHS.iter().any(|r| dir.ends_with(r))
}

/// Whether `after` pins the word before it to a version: `@1.2.3`, `@^1.2`, `==1.2`,
/// `>=1.2`, ` v1.2.3`, ` (1.2.3-1)`, an image's or a model's tag (`:0.6.24`, `:v1.5`,
/// `:7b`, `:0.5b`).
fn pinned(after: &str) -> bool {
    if let Some(tag) = after.strip_prefix(':')
        && model_size(tag)
    {
        return true;
    }
    let (spec, closing) = if let Some(rest) = after.strip_prefix(['@', ':']) {
        (rest.trim_start_matches(['^', '~', '=']), None)
    } else if let Some(rest) = ["==", ">=", "~=", "<="]
        .iter()
        .find_map(|op| after.strip_prefix(op))
    {
        (rest, None)
    } else if let Some(rest) = [" version ", ", version "]
        .iter()
        .find_map(|p| after.strip_prefix(p))
    {
        // How a program prints its own version (`otelcol-contrib version 0.115.1`,
        // `prometheus, version 3.0.1`).
        (rest, None)
    } else if let Some(rest) = after.strip_prefix(" v") {
        (rest, None)
    } else if let Some(rest) = after.strip_prefix(" (") {
        (rest, Some(')'))
    } else {
        return false;
    };
    let spec = spec.strip_prefix('v').unwrap_or(spec);
    let len = spec
        .char_indices()
        .find(|(_, c)| !(is_word_char(*c) || *c == ':' || *c == '~'))
        .map_or(spec.len(), |(i, _)| i);
    let (head, rest) = spec.split_at(len);
    let head = head.trim_end_matches(['.', '-', '+', '_']);
    closing.is_none_or(|c| rest.starts_with(c))
        && head.starts_with(|c: char| c.is_ascii_digit())
        && version(&head.to_lowercase())
        && !ipv4(head)
}

/// A model's size as its tag starts (`7b`, `0.5b`, `70b-instruct`): the parameters, in
/// billions.
fn model_size(tag: &str) -> bool {
    let end = tag
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tag.len());
    end > 0
        && tag[end..].starts_with(['b', 'B'])
        && tag[end + 1..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
}

/// Four numbers of at most 255, dotted: an address, whatever else it could be.
fn ipv4(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

/// A command-line option's name (`-xzf`, `--dearmor`, `--no-install-recommends`): a
/// program's, not a person's. Its value, if it has one, is a word of its own.
fn option(token: &str, core: &str) -> bool {
    token.starts_with('-')
        && core.len() <= 32
        && (core.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
            // A flag of Go's `flag` package and of Prometheus's kind, dotted
            // (`-dedup.minScrapeInterval`, `--storage.tsdb.path`).
            || (core.contains('.')
                && core
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphabetic() || c == '-')))
            // A definition of cmake or a compiler (`-DCMAKE_BUILD_TYPE`), a JVM's
            // option (`-Xmx512m`).
            || (token.starts_with("-D")
                && core[1..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
            || (token.starts_with("-X") && core.bytes().all(|b| b.is_ascii_alphanumeric())))
}

/// What a public artefact's hash or key id follows: apt's missing and expired keys
/// (`NO_PUBKEY 7EA0A9C3F273FCD8`), a digest (`sha256:e2f4…`), git's commit
/// (`HEAD is now at 3f2a9c1`). A hash names software, never a person; out of these
/// contexts a run of hex may be a key or a serial, and goes.
const DIGEST_CONTEXTS: &[&str] = &[
    "NO_PUBKEY ",
    "EXPKEYSIG ",
    "KEYEXPIRED ",
    "BADSIG ",
    "sha1:",
    "sha256:",
    "sha384:",
    "sha512:",
    "md5:",
    "HEAD is now at ",
    "commit ",
    // Go's and other builds' own build info (`commit=fbf5d4ab5e`, Prometheus's
    // `revision: 1f56e84…`).
    "commit=",
    "revision: ",
    "revision=",
    // OpenSSL's error codes (`error:0A000086:SSL routines`).
    "error:",
];

/// Whether `word`, written between `before` and `after`, is the hash or key id of a
/// public artefact.
fn public_digest(before: &str, word: &str, after: &str) -> bool {
    (7..=128).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_hexdigit())
        && (DIGEST_CONTEXTS.iter().any(|c| before.ends_with(c))
            || pve_build(before)
            || build_of_a_version(before, word, after)
            || checksum_line(before, word, after))
}

/// The commit a release was built from, after its version (`Grafana v11.4.0
/// (b58701869e)`).
fn build_of_a_version(before: &str, word: &str, after: &str) -> bool {
    (7..=12).contains(&word.len())
        && after.starts_with(')')
        && before.strip_suffix(" (").is_some_and(|b| {
            let last = b.rsplit(char::is_whitespace).next().unwrap_or(b);
            last.starts_with(['v', 'V']) && version(&last.to_lowercase())
        })
}

/// A line of `sha256sum` and its kin: a whole digest at the start of a line, two spaces
/// (or a space and `*`), and the file it is the digest of.
fn checksum_line(before: &str, word: &str, after: &str) -> bool {
    [32, 40, 64, 128].contains(&word.len())
        && (before.is_empty() || before.ends_with('\n'))
        && (after.starts_with("  ") || after.starts_with(" *"))
        && after[2..].starts_with(|c: char| !c.is_whitespace())
}

/// `pveversion`'s line names the build of the release it prints
/// (`pve-manager/7.2-3/c743d6c1`): Proxmox's commit, the same on every host.
fn pve_build(before: &str) -> bool {
    before.strip_suffix('/').is_some_and(|b| {
        let version_at = b.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '-'));
        version_at.len() < b.len() && version_at.ends_with("pve-manager/")
    })
}

/// The characters a word is made of: letters and digits of any script, and the joiners
/// of names (`python3.11`, `home-assistant`, `pg_hba`, `g++`).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+')
}

/// Whether one word, as a short field holds it, is recognised (no event's words vouch for
/// it: a short field names an OS, a method, a version, never the app).
pub fn is_recognised(word: &str) -> bool {
    recognised(word, &[])
}

/// Whether `word` has a version's shape (`12.7`, `6.8.12-15-pve`, `v2.1.0-rc1`).
pub fn is_version(word: &str) -> bool {
    version(&word.to_lowercase())
}

/// Whether `word` (no surrounding punctuation) is safe to store.
fn recognised(word: &str, keep: &[&str]) -> bool {
    if word.chars().count() <= 2 {
        return true;
    }
    let lower = word.to_lowercase();
    if keep.iter().any(|k| k.eq_ignore_ascii_case(&lower)) {
        return true;
    }
    if vocabulary::lookup(&lower).is_some() || shape(&lower) || library(&lower) || errno(word) {
        return true;
    }
    // Pairs of hex digits joined are an address or a serial (`3c-ec-ef-12-9a-d4`),
    // whatever the rules made of them.
    let pieces: Vec<&str> = word.split(['.', '-', '_', '+', ':']).collect();
    if pieces.len() >= 4 && pieces.iter().all(|p| p.len() <= 2) {
        return false;
    }
    // A public host the rules kept (`dl-cdn.alpinelinux.org`).
    if word.contains('.') && crate::hosts::is_public_infrastructure(word) {
        return true;
    }
    joined(word, keep)
        || package_file(&lower)
        || block_device(&lower)
        || cmake_config(word)
        || sysctl(&lower)
        || derived(&lower)
        || daemon(&lower)
        || dotted(word, keep)
        || camel_case(word)
        || compound_noun(&lower)
        || acronym(word)
        || one_letter_dropped(&lower)
}

/// A kernel parameter as `sysctl` names it (`kernel.shmmax`, `net.ipv4.ip_forward`,
/// `vm.max_map_count`): the kernel's names under its own roots.
fn sysctl(lower: &str) -> bool {
    const ROOTS: &[&str] = &[
        "kernel.",
        "vm.",
        "fs.",
        "net.core.",
        "net.ipv4.",
        "net.ipv6.",
        "net.netfilter.",
        "net.bridge.",
        "net.unix.",
    ];
    ROOTS.iter().any(|root| {
        lower.strip_prefix(root).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest.split('.').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                })
        })
    })
}

/// A tool's daemon, named as Unix names them: the tool and a `d` (`tailscaled`,
/// `containerd`).
fn daemon(lower: &str) -> bool {
    lower.len() >= 5
        && lower
            .strip_suffix('d')
            .is_some_and(|tool| !tool.ends_with('d') && vocabulary::names_a_tool(tool))
}

/// A word made from another by a prefix of English's (`unconfigured`, `prestart`,
/// `autoextend`, `reindex`): the word after it of five letters or more, a word of a
/// language and no name.
fn derived(lower: &str) -> bool {
    const PREFIXES: &[&str] = &["un", "re", "pre", "auto", "non", "multi"];
    lower.bytes().all(|b| b.is_ascii_lowercase())
        && PREFIXES.iter().any(|p| {
            lower.strip_prefix(p).is_some_and(|rest| {
                rest.len() >= 5 && vocabulary::lookup(rest) == Some(Known::Word)
            })
        })
}

/// A word of seven letters or more that is a word of the vocabulary with one letter
/// dropped: the tools' own typos (`listner`, `recommened`, `protocl`), which their
/// messages carry verbatim. A dropped letter, not a changed one: a surname is often a
/// letter away from a word by substitution (`ferreira`, `ferreiro`), rarely by a letter
/// left out; and the word it restores must be no name. Not a letter at either end: a
/// word with one more letter at its end is an inflected form (Polish `kowalskie` of the
/// surname `kowalski`), and at its start a prefix.
fn one_letter_dropped(lower: &str) -> bool {
    let len = lower.len();
    if !(7..=24).contains(&len) || !lower.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let mut candidate = String::with_capacity(len + 1);
    (1..len).any(|at| {
        (b'a'..=b'z').any(|letter| {
            candidate.clear();
            candidate.push_str(&lower[..at]);
            candidate.push(char::from(letter));
            candidate.push_str(&lower[at..]);
            vocabulary::lookup(&candidate) == Some(Known::Word)
        })
    })
}

/// A limit's name as settings write it (`maxkeys`, `maxbytes`, `minfree`): `max` or
/// `min` and a word of three letters or more that is no name.
fn limit(lower: &str) -> bool {
    ["max", "min"].iter().any(|p| {
        lower.strip_prefix(p).is_some_and(|rest| {
            rest.chars().count() >= 3 && vocabulary::lookup(rest) == Some(Known::Word)
        })
    })
}

/// An acronym: three or four capitals (`SDN`, `LTS`, `NUMA`). Too short for a key, and a
/// host or a person is not written so.
fn acronym(word: &str) -> bool {
    (3..=4).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_uppercase())
}

/// Words joined by `-`, `_` or `+` (`home-assistant`, `pg_hba`,
/// `libfoo_1.2.3_amd64.deb`): every part recognised, and none a name
/// (`john-smith-nas`); a part may be dotted (`amd64.deb`).
fn joined(word: &str, keep: &[&str]) -> bool {
    let parts: Vec<&str> = word
        .split(['-', '_', '+'])
        .filter(|p| !p.is_empty())
        .collect();
    parts.len() > 1
        && parts.iter().all(|p| {
            part(p, keep)
                || (p.contains('.')
                    && p.split('.')
                        .filter(|s| !s.is_empty())
                        .all(|s| part(s, keep)))
        })
}

/// A dotted word: a file, a module path (`java.lang.Error`, `web.go`, `v5.13.30.8`),
/// each segment recognised on its own.
fn dotted(word: &str, keep: &[&str]) -> bool {
    word.contains('.')
        && word
            .split('.')
            .filter(|s| !s.is_empty())
            .all(|segment| segment_recognised(segment, keep))
}

/// A word made of words, as German makes its nouns (`paketlisten`,
/// `abhängigkeitsbaum`: abhängigkeit, s, baum) and English its jargon (`mediaserver`):
/// every piece a word of five letters or more (the last may have four) that is no name,
/// with German's linking `s` or `es` between two.
fn compound_noun(lower: &str) -> bool {
    let chars: Vec<char> = lower.chars().collect();
    if chars.len() < 8 || !chars.iter().all(|c| c.is_alphabetic()) {
        return false;
    }
    // ends[i]: the first i characters are a sequence of words.
    let mut ends = vec![false; chars.len() + 1];
    ends[0] = true;
    for start in 0..chars.len() {
        if !ends[start] {
            continue;
        }
        // Pieces of five letters or more, the last of four: a surname splits into short
        // words of some language (`jank` and `owska` of `jankowska`), a compound rarely.
        for end in start + 4..=chars.len() {
            if end - start == 4 && end != chars.len() {
                continue;
            }
            let piece: String = chars[start..end].iter().collect();
            if vocabulary::lookup(&piece) == Some(Known::Word) {
                ends[end] = true;
                for link in ["s", "es"] {
                    let linked = end + link.len();
                    if linked < chars.len() && chars[end..linked].iter().copied().eq(link.chars()) {
                        ends[linked] = true;
                    }
                }
            }
        }
    }
    ends[chars.len()] && vocabulary::lookup(lower).is_none()
}

/// One segment of a dotted word: a word of its own, or joined words.
fn segment_recognised(segment: &str, keep: &[&str]) -> bool {
    let lower = segment.to_lowercase();
    segment.chars().count() <= 2
        || keep.iter().any(|k| k.eq_ignore_ascii_case(&lower))
        || vocabulary::lookup(&lower).is_some()
        || shape(&lower)
        || library(&lower)
        || errno(segment)
        || joined(segment, keep)
        || camel_case(segment)
        || compound_noun(&lower)
        || derived(&lower)
}

/// One part of a compound: a word that is no name (a short one may be: `com`, `max`),
/// or a safe shape.
fn part(part: &str, keep: &[&str]) -> bool {
    let lower = part.to_lowercase();
    lower.chars().count() <= 2
        || keep.iter().any(|k| k.eq_ignore_ascii_case(&lower))
        || match vocabulary::lookup(&lower) {
            Some(Known::Word) => true,
            Some(Known::AlsoAName) => lower.chars().count() <= 3,
            None => false,
        }
        || shape(&lower)
        || library(&lower)
        || errno(part)
        || camel_case(part)
        || compound_noun(&lower)
        || derived(&lower)
        || acronym(part)
}

/// A library by Debian's naming: `lib` and a recognised word (`libva`, `libpq`, `libssl`).
fn library(word: &str) -> bool {
    word.strip_prefix("lib").is_some_and(|rest| {
        rest.chars().count() >= 2
            && (vocabulary::lookup(rest) == Some(Known::Word) || rest.chars().count() <= 3)
    })
}

/// An error code in the manner of C's errno: `E` and a word, in capitals (`ENOENT` is a
/// word already; `ERESOLVE`, `EINTEGRITY` are made so).
fn errno(word: &str) -> bool {
    word.len() >= 4
        && word.starts_with('E')
        && word.chars().all(|c| c.is_ascii_uppercase())
        && vocabulary::lookup(&word[1..].to_lowercase()) == Some(Known::Word)
}

/// The safe shapes of one lower-case word.
fn shape(word: &str) -> bool {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    // A number: a count, a port, a line, a size in bytes, a timestamp. Longer runs of
    // digits are serials and keys as often as anything else.
    if letters == 0 && digits > 0 && digits <= 10 && word.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    version(word)
        || numbered(word)
        || product_code(word)
        || quantity(word)
        || address(word)
        || hex_literal(word)
        || shared_object(word)
        || limit(word)
}

/// A small value as a program writes it in hex (`0x1`, `0x3e`, `0x1b4`): a flag, an
/// offset, a code. Longer ones are device identities as often (a Zigbee device's
/// `0x00158d00045a1b2c`, a Z-Wave network's `0xe8a73f21`).
fn hex_literal(word: &str) -> bool {
    word.strip_prefix("0x").is_some_and(|hex| {
        (1..=4).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A shared library's file (`libggml-cuda.so`, `libcublaslt.so.12.4.5.8`): `lib`, a
/// name, `.so` and its version numbers. Libraries are named by their projects.
fn shared_object(word: &str) -> bool {
    let Some(name_end) = word.find(".so") else {
        return false;
    };
    let (name, rest) = word.split_at(name_end);
    name.strip_prefix("lib").is_some_and(|n| {
        (1..=40).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
    }) && rest["so".len() + 1..]
        .split('.')
        .all(|p| p.is_empty() || (p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit())))
}

/// A number with its unit (`4471204kb`, `512m`, `2.5gib`, `150ms`) or a duration in
/// parts (`168h0m0s`).
fn quantity(word: &str) -> bool {
    const UNITS: &[&str] = &[
        "b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib", "k", "m", "g", "t", "ms",
        "us", "µs", "ns", "s", "h", "d", "min", "hz", "khz", "mhz", "ghz", "mt",
    ];
    let split = word
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(word.len());
    let (number, unit) = word.split_at(split);
    if !number.is_empty() && number.len() <= 12 && UNITS.contains(&unit) {
        return true;
    }
    // A duration: numbers each followed by h, m or s.
    !word.is_empty()
        && word.len() <= 16
        && word.ends_with(['h', 'm', 's'])
        && word
            .split(['h', 'm', 's'])
            .filter(|p| !p.is_empty())
            .all(|p| p.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        && word.starts_with(|c: char| c.is_ascii_digit())
}

/// A memory address as a kernel or a debugger prints it: sixteen hex digits from the
/// bottom or the top of the address space (`00007f3a1c2d4e5f`, `ffff9e8c…`).
fn address(word: &str) -> bool {
    word.len() == 16
        && (word.starts_with("0000") || word.starts_with("ffff"))
        && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A package config file of CMake: `Qt6Config.cmake`, `zxing-config.cmake` name public
/// software.
fn cmake_config(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    [
        "config.cmake",
        "-config.cmake",
        "targets.cmake",
        "configversion.cmake",
    ]
    .iter()
    .any(|end| lower.ends_with(end) && lower.len() > end.len())
}

/// A version: digits and dots to begin with (after a `v`), then parts that are numbers,
/// short tags or words (`3.11.2`, `v1.2.3-beta.4`, `6.8.12-15-pve`, `2.4.57-2+deb12u1`).
fn version(word: &str) -> bool {
    let body = word.strip_prefix('v').unwrap_or(word);
    let head_len = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(body.len());
    let head = &body[..head_len];
    if !head.contains('.') || !head.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let parts = || {
        body[head_len..]
            .split(['.', '-', '+', '~', '_'])
            .filter(|p| !p.is_empty())
    };
    // A full version may end in the commit it was built from (`1.41.3.9314-a0bfb8370`,
    // git's `v1.2.3-14-g1a2b3c4`): the project's, not anyone's.
    let built = head.matches('.').count() >= 2 && parts().next_back().is_some_and(commit);
    let judged = parts().count() - usize::from(built);
    parts().take(judged).all(|p| {
        p.chars().all(|c| c.is_ascii_digit())
            || vocabulary::lookup(p) == Some(Known::Word)
            || tag(p)
    })
}

/// A short commit hash, alone or as `git describe` writes it (`g1a2b3c4`).
fn commit(part: &str) -> bool {
    let hex = part.strip_prefix('g').unwrap_or(part);
    (7..=12).contains(&hex.len())
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && hex.bytes().any(|b| b.is_ascii_digit())
}

/// A release tag: a few letters and digits, as `rc1`, `deb12u1`, `el9`, `pgdg120`,
/// `1nodesource1`; a run of more than two letters must be a word (`pve`, `deb`), for a
/// name could be one (`6.8.12-ewa`).
fn tag(part: &str) -> bool {
    part.len() <= 16
        && part.chars().all(|c| c.is_ascii_alphanumeric())
        && runs(part).all(|run| {
            run.chars().all(|c| c.is_ascii_digit())
                || (run.len() <= 2 && part.len() <= 8)
                || vocabulary::lookup(run) == Some(Known::Word)
        })
}

/// A word with a number: a version or soname (`libssl1.1`, `python3.11`, `php8.2`), a
/// device (`eth0`, `sda1`, `vmbr0`, `nvme0n1`, `ens18`) or a release (`deb12u1`): a
/// recognised word, or `lib` and one, then digits with at most two letters at a time.
fn numbered(word: &str) -> bool {
    let Some(split) = word.find(|c: char| c.is_ascii_digit()) else {
        return false;
    };
    let (base, number) = word.split_at(split);
    let base = base.trim_end_matches(['-', '_', '.']);
    // A short base may be a name too (`eth`): a name of three letters and a number is
    // still a device, not a person.
    let known_base = |b: &str| {
        b.len() >= 2
            && match vocabulary::lookup(b) {
                Some(Known::Word) => true,
                Some(Known::AlsoAName) => b.len() <= 3,
                None => library(b),
            }
    };
    known_base(base)
        && number.len() <= 8
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.')
        && runs(number).all(|run| run.chars().all(|c| c.is_ascii_digit()) || run.len() <= 2)
}

/// A short product or model code: letters and digits mixed, mostly digits, at most nine
/// characters in all and no run of more than three letters (`i5-8500t`, `n100`,
/// `5800x3d`, `rtx3060`, `e5-2680v4`). Longer mixes, and letters with a digit or two in
/// them (`W0lf`, `P4ssw0rd`), are keys and passwords as often as not.
fn product_code(word: &str) -> bool {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let letters = word.chars().filter(char::is_ascii_alphabetic).count();
    word.len() <= 9
        && digits >= letters
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && word.split('-').all(|p| p.len() <= 6)
        && runs(word).all(|run| run.chars().all(|c| c.is_ascii_digit()) || run.len() <= 3)
}

/// The runs of letters and of digits of an ASCII word (`deb12u1`: deb, 12, u, 1).
fn runs(word: &str) -> impl Iterator<Item = &str> {
    let mut rest = word;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() != digit || !c.is_ascii_alphanumeric())
            .map_or(rest.len(), |(i, _)| i.max(1));
        let (run, tail) = rest.split_at(end);
        rest = tail.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        Some(run)
    })
}

/// `ModuleNotFoundError`, `IOException`, `getAddrInfo`: words joined by their capitals,
/// each a word (an acronym ends where the next word's capital begins).
fn camel_case(word: &str) -> bool {
    if !word.chars().all(char::is_alphanumeric) {
        return false;
    }
    let mut parts = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    for (n, w) in chars.windows(2).enumerate() {
        let ((_, a), (i, b)) = (w[0], w[1]);
        let acronym_ends = a.is_uppercase()
            && b.is_uppercase()
            && chars.get(n + 2).is_some_and(|(_, c)| c.is_lowercase());
        if (a.is_lowercase() && b.is_uppercase()) || acronym_ends {
            if start < i {
                parts.push(&word[start..i]);
            }
            start = i;
        }
    }
    parts.push(&word[start..]);
    // Short parts (`Asp`, `Net` of `AspNetCore`) count when a long one is a word: code
    // joins abbreviations to words, a person's name is no word.
    let word_of = |p: &&str| vocabulary::lookup(&p.to_lowercase()) == Some(Known::Word);
    parts.len() > 1
        && parts.iter().any(|p| p.chars().count() >= 4 && word_of(p))
        && parts.iter().all(|p| p.chars().count() <= 3 || word_of(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> String {
        filter(text, &[])
    }

    #[test]
    fn code_named_by_a_trace_or_a_runtime_is_kept() {
        for text in [
            "\tat org.keycloak.provider.Spi.getProviderFactoryClass(Spi.java:1042)",
            "    at Znp.open (/opt/zigbee2mqtt/node_modules/zigbee-herdsman/src/adapter/z-stack/znp/znp.ts:258:28)",
            "Caused by: org.apache.tomcat.LifecycleException: failed",
            "ERROR: requests.exceptions.ConnectionError: failed",
            "/etc/postfix/master.cf: -XX:+UseConcMarkSweepGC is no longer supported",
            "error: could not compile `hbbs` due to 2 previous errors",
            "sysctl: permission denied on key \"kernel.shmmax\"; net.ipv4.ip_forward",
            "dependency problems - leaving unconfigured; lxc-pve-prestart-hook",
            "type=AVC msg=audit(1765102001.221:812): pid=1942 dest=3000 tclass=tcp_socket",
            "flag provided but not defined: -dedup.minScrapeInterval",
            "in rcube_charset.php:312 rcube_charset::clean() at typesense_server_utils.cpp:125",
            "hudson/remoting/Launcher has been compiled by a more recent version of the Java",
            "otelcol-contrib version 0.115.1; failed to connect to local tailscaled",
        ] {
            assert_eq!(net(text), text);
        }
        // Out of these contexts the same words are judged as any other.
        for (text, stored) in [
            ("Caused by okonkwo.lan.Server", "Caused by <word>"),
            ("ping okonkwo (10.0.0.5)", "ping <word> (10.0.0.5)"),
            ("user okonkwo=admin", "user <word>=admin"),
            (
                "--users okonkwo=pw1,nwosu=pw2,adebayo=pw3",
                "--users <word>=<word>,<word>=<word>,<word>=<word>",
            ),
            ("/etc/pve/nodes/okonkwo/", "/etc/pve/nodes/<word>/"),
            (
                "    at okonkwo (/opt/x.js:1:1)",
                "    at <word> (/opt/x.js:1:1)",
            ),
            ("   at Okonkwo.Adebayo.Program.Main()", "   at <word>()"),
            (
                "Caused by: de.okonkwofamily.ConfigException",
                "Caused by: <word>",
            ),
            ("okonkwo=1 adebayo=2 nwosu=3", "<word>=1 <word>=2 <word>=3"),
            (
                "PATH=/opt/app/node_modules/.bin:/srv/okonkwo/bin",
                "PATH=/opt/app/node_modules/.bin:/srv/<word>/bin",
            ),
            ("-XX:okonkwo", "-XX:<word>"),
            ("/srv/okonkwo/files", "/srv/<word>/files"),
            ("kernel okonkwo.shmmax", "kernel <word>"),
            ("unokonkwo", "<word>"),
            ("okonkwo::", "<word>::"),
            ("okonkwo.py says", "<word> says"),
            ("okonkwod", "<word>"),
            ("okonkwo/nwosu has been", "<word>/<word> has been"),
        ] {
            assert_eq!(net(text), stored, "{text}");
        }
    }

    #[test]
    fn a_tools_typo_of_one_dropped_letter_is_kept_and_a_name_is_not() {
        for typo in ["listner", "recommened", "protocl"] {
            assert!(recognised(typo, &[]), "{typo}");
        }
        // Names and hosts are no word with a letter left out.
        for name in ["okonkwo", "ferreira", "hkowalski", "nasbackup", "martinez"] {
            assert!(!recognised(name, &[]), "{name}");
        }
    }

    #[test]
    fn words_of_four_languages_and_the_trade_are_kept() {
        for text in [
            "E: Unable to locate package libssl1.1",
            "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
            "Verbindung fehlgeschlagen: Zeitüberschreitung",
            "la conexión ha fallado",
            "échec de la connexion au serveur",
            "ModuleNotFoundError: No module named 'yaml'",
            "/etc/nginx/sites-enabled/default",
            "pve-manager/8.4.14 running kernel: 6.8.12-15-pve",
            "docker-compose.yml python3.11 eth0 nvme0n1 x86_64",
            "Intel(R) Core(TM) i5-8500T CPU @ 2.10GHz",
        ] {
            assert_eq!(net(text), text);
        }
    }

    #[test]
    fn the_shapes_of_build_and_kernel_output_are_kept() {
        for text in [
            "total-vm:4471204kB, anon-rss:0kB took 168h0m0s",
            "cmake -DCMAKE_BUILD_TYPE=Release; java -Xmx512m; Qt6Config.cmake",
            "segfault at 10 ip 00007f3a1c2d4e5f sp 00007ffd2a1b3c40",
            "NO_PUBKEY 7EA0A9C3F273FCD8; Digest: sha256:4f1e2d3c5b6a7980",
            "HEAD is now at 3f2a9c1 bump",
        ] {
            assert_eq!(net(text), text);
        }
        // Out of its context, a run of hex may be a key.
        assert_eq!(net("key 7EA0A9C3F273FCD8"), "key <word>");
    }

    #[test]
    fn what_programs_print_about_themselves_is_kept() {
        for text in [
            "segfault at 18 ip 00007f3a1c2d4e5f in libc.so.6[7f3a1c228000+155000]",
            "pc=0x1b4 flags 0x3e; cp: /usr/lib/ollama/libggml-cuda.so libcublaslt.so.12",
            "npm ERR! 404 GET https://registry.npmjs.org/@esbuild%2flinux-x64 @nestjs/core@10.4.15",
            "error:0A000086:SSL routines::certificate verify failed",
            "pve-manager/7.2-3/c743d6c1 (running kernel: 5.15.30-2-pve)",
            "plex (1.41.3.9314-a0bfb8370) v1.2.3-14-g1a2b3c4",
            "Grafana v11.4.0 (b58701869e) commit=fbf5d4ab5e",
            "(branch: HEAD, revision: 1f56e8492c31a558ccea833027db4bd7f8b6d0e9)",
            "6d2dda2b2eac7b69a5e00af433dbb5a6bae188593e5a08ad1eec19337658e5b8  go1.23.4.tar.gz",
            "kernel.keys.maxkeys = 200; net.core.maxbytes",
            "E: Impossible de corriger les problèmes; se han omitido; della rete",
        ] {
            assert_eq!(net(text), text);
        }
    }

    #[test]
    fn lookalikes_of_those_shapes_go() {
        for (text, stored) in [
            // A device's identity in hex: a Zigbee radio, a Z-Wave network.
            (
                "ieee 0x00158d00045a1b2c home 0xe8a73f21",
                "ieee <word> home <word>",
            ),
            // A user's `@` follows a name; `@` and a name without a package is no scope.
            ("ping @kowalczyk now", "ping @<word> now"),
            ("error: 7f3a1c228000", "error: <word>"),
            // A digest not where a checksum tool prints one, or a key in a version's place.
            (
                "token 6d2dda2b2eac7b69a5e00af433dbb5a6bae188593e5a08ad1eec19337658e5b8  x",
                "token <word>  x",
            ),
            ("grafana (b58701869e)", "grafana (<word>)"),
            ("build 1.2-a0bfb8370", "build <word>"),
            ("maxkowalczyk", "<word>"),
        ] {
            assert_eq!(net(text), stored, "{text}");
        }
    }

    #[test]
    fn a_package_is_kept_where_a_package_manager_names_it() {
        for text in [
            "at new Client (/app/node_modules/knex/lib/client.js:70:11)",
            "/app/node_modules/@zxcvbnts/core/dist/index.js",
            "/srv/ha/lib/python3.13/site-packages/zigpy_znp/uart.py",
            "platform: espressif32@5.4.0; zigbee-herdsman@^3.2.5",
            "opencv-python-headless==4.10.0.84 depends on numpy>=2",
            "error: failed to compile `pueue v3.4.1`",
            "Unpacking plexmediaserver (1.41.3.9314-a0bfb8370) over (1:2.38.1-5+deb12u2)",
            "plexmediaserver_1.41.3.9314-a0bfb8370_amd64.deb libegl1_1%3a1.1.10-1_all.deb",
            "ctranslate2-4.5.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            "ollama pull qwen2.5:7b; nomic-embed-text:v1.5 and calibre-web:0.6.24",
            "GET https://registry.npmjs.org/prisma https://cdn.jsdelivr.net/npm/@fortawesome/x",
            "https://static.crates.io/crates/tokio/1.42.0/download on /dev/sda and /dev/xvdf",
        ] {
            assert_eq!(net(text), text);
        }
    }

    #[test]
    fn a_name_or_an_address_beside_a_version_is_no_package() {
        for (text, stored) in [
            // An address is no version, however it is written beside a name.
            ("ssh kowalczyk@10.0.0.5", "ssh <word>@10.0.0.5"),
            ("from okonkwo (192.168.1.20)", "from <word> (192.168.1.20)"),
            ("okonkwo-10.0.0.5-py3-none-any.whl", "<word>"),
            // A registry's path vouches for its first part only, a private host's for none.
            (
                "https://registry.npmjs.org/prisma/okonkwo http://npm.smith.lan/okonkwo",
                "https://registry.npmjs.org/prisma/<word> http://<word>/<word>",
            ),
            // A port, or a password, is no tag.
            ("okonkwo:8080 okonkwo:7bsecret", "<word>:8080 <word>:<word>"),
            // A name English writes as a name is never vouched for by a version.
            ("will_1.2_amd64.deb", "<word>"),
            // Not a directory packages are installed into, nor a version after the name.
            ("/home/okonkwo/lib/x.py", "/home/<word>/lib/x.py"),
            (
                "/srv/my_node_modules/okonkwo/x.js",
                "/srv/my_node_modules/<word>/x.js",
            ),
            (
                "kowalczyk@v-nas and kowalczyk (see below)",
                "<word>@v-nas and <word> (see below)",
            ),
            // A name pinned to something that is no version.
            ("okonkwo_1.0_x86.deb", "<word>"),
        ] {
            assert_eq!(net(text), stored, "{text}");
        }
    }

    #[test]
    fn what_no_vocabulary_knows_is_replaced() {
        assert_eq!(
            net("could not connect to kellerpbs: Connection refused"),
            "could not connect to <word>: Connection refused"
        );
        assert_eq!(net("os john-smith-nas"), "os <word>");
        assert_eq!(net("enroll clm4xq7r2000308l4b9z1h6kd"), "enroll <word>");
        assert_eq!(net("serial WD-WCC4N7HJ2K9X ok"), "serial <word> ok");
        assert_eq!(net("code 84736251904837261553"), "code <word>");
    }

    #[test]
    fn placeholders_and_the_event_s_own_words_stay() {
        assert_eq!(net("<host> <ip>:443 <word>"), "<host> <ip>:443 <word>");
        assert_eq!(
            filter("chown -R frigate:frigate /opt/frigate", &["frigate"]),
            "chown -R frigate:frigate /opt/frigate"
        );
    }

    #[test]
    fn punctuation_around_a_word_is_kept_as_it_was() {
        assert_eq!(net("--verbose, okonkwo."), "--verbose, <word>.");
    }
}
