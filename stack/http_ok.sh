# Sourced by stack.sh and cluster.sh (which define `log`).

# `http_ok URL` exits 0 when URL answers 2xx within 1 s. Python's urllib, as the venv has
# it and a fresh machine may lack curl.
http_ok() {
  "$PY" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).read()
except Exception:
    sys.exit(1)
PY
}

# `wait_for NAME CHECK SECONDS LOG`: poll CHECK (a command) until it succeeds; after
# SECONDS, show the end of LOG and fail.
wait_for() {
  local deadline=$((SECONDS + $3))
  until $2; do
    if ((SECONDS >= deadline)); then
      log "$1 did not answer within $3 s; its log follows ($4)"
      tail -n 30 "$4" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "$1 is up"
}
