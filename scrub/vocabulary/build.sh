#!/usr/bin/env bash
# Rebuild the vocabulary net's word list (scrub/data/vocabulary.fst) from its public
# sources (scrub/vocabulary/collect.py says which). A maintainer's step, not the build's:
# the FST is committed, versioned with the code that reads it. Needs Debian's word lists
# (installed here when missing, as root or through sudo) and apt's package index.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# A clone of the scripts' repository, for their app slugs.
SCRIPTS_REPO=${SCRIPTS_REPO:?set SCRIPTS_REPO to a clone of community-scripts/ProxmoxVE}
need=()
for pkg in wamerican wamerican-large wbritish-large wngerman wfrench witalian wdutch wpolish wportuguese hunspell-es hunspell-tools apt-file linux-libc-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]]; then apt-get install -y "${need[@]}"; else sudo apt-get install -y "${need[@]}"; fi
fi
# Debian's Contents index, for the commands packages install.
if [[ $(id -u) == 0 ]]; then apt-file update; else sudo apt-file update; fi
mkdir -p "$ROOT/target/vocabulary"
# gender-guesser's name dictionary, from PyPI, in a venv of its own.
VENV=$ROOT/target/vocabulary/venv
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "gender-guesser==0.4.0"
NAMES=$("$VENV/bin/python" -c 'import gender_guesser, os; print(os.path.join(os.path.dirname(gender_guesser.__file__), "data", "nam_dict.txt"))')
# The stop-word lists of each language, from PyPI too.
"$VENV/bin/pip" install -q "stop-words==2018.7.23"
STOP_WORDS=$("$VENV/bin/python" -c 'import stop_words, os; print(os.path.join(os.path.dirname(stop_words.__file__), "stop-words"))')
python3 "$ROOT/scrub/vocabulary/collect.py" "$NAMES" --stop-words "$STOP_WORDS" --scripts "$SCRIPTS_REPO" \
  --hosts-out "$ROOT/scrub/data/public-hosts.txt" \
  >"$ROOT/target/vocabulary/words.txt"
cargo run --release -q -p scrub --example build_vocabulary -- \
  "$ROOT/target/vocabulary/words.txt" "$ROOT/scrub/data/vocabulary.fst"
ls -l "$ROOT/scrub/data/vocabulary.fst" "$ROOT/scrub/data/public-hosts.txt"
