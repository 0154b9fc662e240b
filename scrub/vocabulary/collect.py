#!/usr/bin/env python3
"""Collect the vocabulary net's words from named public sources; print them sorted, one
a line, each with flags after a tab: 1 when it is also a first name that English knows
as a name (`will`, `john`, `rose`), plus 2 when it names a tool (a Debian package or
command, a script's app, a part of one, a word of the trade: `curl`, `meson`, `ollama`),
plus 4 when it is a word of one of the languages below (`example`, `unable`).
`scrub/vocabulary/build.sh` runs it and turns the list into the FST the scrubber loads (scrub/data/vocabulary.fst); ARCHITECTURE.md ("Privacy") says why each source.

Sources (Debian 12 packages, read where Debian installs them):
- English: wamerican, wamerican-large and wbritish-large (SCOWL), /usr/share/dict/
  american-english, american-english-large and british-english-large: the tools print
  words the common list lacks (`issuer`) and British spellings (`virtualisation`).
  Lower-case entries only: a capitalised entry is a proper noun (a first name, a
  surname, a city).
- German: wngerman, /usr/share/dict/ngerman. Nouns are capitalised in German, so a
  capitalised entry counts too, lower-cased, unless English capitalises it as well (a
  name, a place) or it is a first name.
- First names: the name dictionary of the PyPI package gender-guesser (Jörg Michael's
  list, about 45 000 names of many countries), to tell German nouns from the names the
  German list also holds (`Gregor`, `Anke`), and to mark words that are names too.
- French: wfrench, /usr/share/dict/french. Lower-case entries only.
- Spanish: hunspell-es (es_ES), every form its affixes make (`unmunch`, hunspell-tools):
  wspanish lists no verb forms (`fallado`). Lower-case forms only.
- Italian, Dutch, Polish and Portuguese, whose messages the tools print too: witalian,
  wdutch, wpolish and wportuguese. Lower-case entries only, and, as for French and
  Spanish, none that is a first name (Dutch lists `hannes`, French `marie`).
- The common words of each of these languages (articles, pronouns, auxiliaries: `les`,
  `que`, `una`, `della`, `han`): the stop-word lists of the PyPI package stop-words
  (2018.7.23). The name filter above drops those that are first names somewhere
  (French `les`, Spanish `han`), and a log in these languages is made of them; they are
  kept, as words that are also names: alone, never vouching for a compound (`ben` is
  Dutch for "am", and `ben-nas` still goes).
- Debian's package names: `apt-cache pkgnames` (bookworm main), the names tools and
  libraries go by, and the parts of them (`django` of `python3-django`), except those
  that are names (`john`, `maria`).
- The commands Debian's packages install: every name under /bin, /sbin, /usr/bin and
  /usr/sbin in Debian's Contents index (`apt-file`, bookworm main), 45 000 of them.
- The scripts' apps: the slugs of community-scripts/ProxmoxVE (its ct/, vm/ and
  tools/addon/ scripts), from a clone of it (`--scripts`), and their parts.
- The projects the scripts install: the owners and names of the GitHub repositories
  they download from (`github.com/OWNER/REPO`, `fetch_and_deploy_gh_release x
  "OWNER/REPO"`, `ghcr.io/OWNER/NAME`), and their parts. They are public projects, not
  the people who run the scripts.
- The public hosts the scripts download from (`--hosts-out`): every host name in a URL
  of the scripts, except examples and private names. The scrubber keeps them and the
  hosts under them (a suffix anyone can register under, `duckdns.org`, it drops).
- The error names of Linux's errno.h (`ENOTEMPTY`, `EADDRINUSE`), from linux-libc-dev's
  /usr/include/asm-generic/errno-base.h and errno.h: tools print them bare.
- The words of the scripts' exit-code meanings (schemas/data/exit-codes.tsv).
- scrub/vocabulary/technical.txt: the trade's words that none of the above has.
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A word as the net reads it: letters of any script, digits, and the joiners of
# compound names. Shorter than two characters is no word worth keeping.
WORD = re.compile(r"^[\w][\w.+\-]*$")


# The languages whose words the vocabulary holds, as the stop-words package names them.
STOP_WORD_LANGUAGES = (
    "english", "german", "french", "spanish", "italian", "dutch", "polish", "portuguese",
)


def entries(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.strip() for line in f if line.strip() and "'" not in line]


def first_names(path):
    """The names of gender-guesser's nam_dict.txt: a name in columns 3 to 28 of each line
    that is no comment, `+` joining the parts of a compound name."""
    names = set()
    with open(path, encoding="iso-8859-1") as f:
        for line in f:
            if line.startswith("#") or len(line) < 30:
                continue
            name = line[3:29].strip().lower()
            for part in name.replace("+", " ").replace("-", " ").split():
                if len(part) >= 3:
                    names.add(part)
    return names


def parts(name):
    """The runs of letters of a compound name, three letters or more (`zigbee` and
    `mqtt` of `zigbee2mqtt`)."""
    return {p for p in re.split(r"[^a-z]+", name.lower()) if len(p) >= 3}


def commands():
    listing = subprocess.run(
        ["apt-file", "search", "--regexp", r"^/(usr/)?s?bin/[^/]+$"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line.rsplit("/", 1)[-1].strip().lower() for line in listing.splitlines()}


def slugs(scripts):
    """The scripts' app slugs, from a git clone (a bare one too) of
    community-scripts/ProxmoxVE."""
    files = subprocess.run(
        ["git", "-C", scripts, "ls-tree", "-r", "--name-only", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    found = set()
    for path in files:
        m = re.match(r"^(ct|vm|tools/addon)/([^/]+)\.sh$", path)
        if m:
            found.add(m.group(2).lower())
    return found


def script_text(scripts):
    """The scripts' shell code: ct/, install/, misc/, tools/ and vm/."""
    return subprocess.run(
        ["git", "-C", scripts, "grep", "-h", "-I", "-e", ".", "HEAD", "--",
         "ct", "install", "misc", "tools", "vm"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def projects(code):
    """The owners and names of the repositories the scripts download from."""
    found = set()
    for owner, repo in re.findall(r"(?:github\.com|ghcr\.io)/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)", code):
        found |= {owner.lower(), repo.lower().removesuffix(".git")}
    for line in code.splitlines():
        if "gh_release" in line or "github_release" in line:
            for owner, repo in re.findall(r'"([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)"', line):
                found |= {owner.lower(), repo.lower()}
    return found


PRIVATE_HOST = re.compile(
    r"(^|\.)(example\.[a-z]+|local|lan|localdomain|internal|home\.arpa|localhost|test|invalid)$"
    r"|your-|yourdomain|my-domain|mydomain|domain\.tld|(^|\.)domain\.com$|<|\$"
    # Object storage: a bucket is a host under these, and a bucket is someone's.
    r"|(^|\.)(amazonaws\.com|backblazeb2\.com|googleapis\.com|r2\.dev|digitaloceanspaces\.com)$"
)


def public_hosts(code):
    """Host names of the URLs in the scripts, but for examples and private names."""
    hosts = set()
    for host in re.findall(r"https?://([A-Za-z0-9.-]+\.[A-Za-z]{2,})", code):
        host = host.lower().strip(".")
        if not PRIVATE_HOST.search(host) and not re.fullmatch(r"[0-9.]+", host):
            hosts.add(host)
    return sorted(hosts)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("names", help="gender-guesser's nam_dict.txt")
    args.add_argument("--stop-words", required=True, help="the stop-words package's lists")
    args.add_argument("--scripts", required=True, help="a clone of community-scripts/ProxmoxVE")
    args.add_argument("--hosts-out", help="where to write the scripts' public hosts")
    args = args.parse_args()
    names = first_names(args.names)
    common = entries("/usr/share/dict/american-english")
    large = [
        w
        for dictionary in ("american-english-large", "british-english-large")
        for w in entries(f"/usr/share/dict/{dictionary}")
    ]
    english = common + large
    proper = {w.lower() for w in english if w[:1].isupper()} | names
    words = {w for w in common if w == w.lower()}
    # The large lists write names in lower case too (`anna`, `jenny`): not those.
    words |= {w for w in large if w == w.lower()} - names
    german = entries("/usr/share/dict/ngerman")
    words |= {w for w in german if w == w.lower()}
    words |= {w.lower() for w in german if w != w.lower()} - proper
    # Lower-case entries can be names too (Dutch `hannes`, French `marie`): not these.
    for language in ("french", "italian", "dutch", "polish", "portuguese"):
        words |= {w for w in entries(f"/usr/share/dict/{language}") if w == w.lower()} - names
    spanish = subprocess.run(
        ["unmunch", "/usr/share/hunspell/es_ES.dic", "/usr/share/hunspell/es_ES.aff"],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8", errors="replace")
    words |= {w for w in spanish.split() if w == w.lower() and "'" not in w} - names
    stop = set()
    for language in STOP_WORD_LANGUAGES:
        stop |= {w.lower() for w in entries(Path(args.stop_words) / f"{language}.txt")}
    words |= stop
    packages = subprocess.run(
        ["apt-cache", "pkgnames"], check=True, capture_output=True, text=True
    ).stdout.split()
    code = script_text(args.scripts)
    if args.hosts_out:
        Path(args.hosts_out).write_text("".join(f"{h}\n" for h in public_hosts(code)))
    tools = set(packages) | commands() | slugs(args.scripts) | projects(code)
    tool_words = tools - names
    for tool in tools:
        tool_words |= parts(tool) - names
    for header in ("errno-base.h", "errno.h"):
        text = Path(f"/usr/include/asm-generic/{header}").read_text()
        tool_words |= {e.lower() for e in re.findall(r"^#define\s+(E[A-Z0-9]+)\b", text, re.M)}
    # The words of a language, before the trade's join them: a domain named by one
    # (`example.com`, `falcon.io`) is anyone's, not a tool's own.
    language = set(words)
    for line in (ROOT / "schemas/data/exit-codes.tsv").read_text().splitlines()[1:]:
        for cell in line.split("\t")[1:]:
            words |= {w.lower() for w in re.findall(r"[\w.+\-]+", cell)}
    for line in (ROOT / "scrub/vocabulary/technical.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            tool_words.add(line)
    words |= tool_words
    words = sorted(w for w in words if len(w) >= 2 and WORD.match(w))
    # A word that is also a first name, and one English knows as a name (John, Will,
    # Rose), is kept alone but does not vouch for a compound: `john-smith-nas` is no
    # phrase of any language.
    # The common list only: the large ones capitalise rarer names (`Core`, a surname), and
    # marking a common word as a name takes it out of every compound.
    as_names = (names & {w.lower() for w in common if w[:1].isupper()}) | (stop & names)
    # A tool's name is no one's: the scrubber does not learn it as a host's name when a
    # domain has it as a label (`curl` of `curl.se`), and a tool's name that is no word of
    # a language (4 unset) names the tool's own domain (`syncthing.net`).
    sys.stdout.write(
        "".join(
            f"{w}\t{int(w in as_names) | 2 * int(w in tool_words) | 4 * int(w in language)}\n"
            for w in words
        )
    )
    print(f"{len(words)} words", file=sys.stderr)


if __name__ == "__main__":
    main()
