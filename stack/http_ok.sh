# Sourced by stack.sh and cluster.sh: `http_ok URL` exits 0 when URL answers 2xx within
# 1 s. Python's urllib, as the venv has it and a fresh machine may lack curl.
http_ok() {
  "$PY" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).read()
except Exception:
    sys.exit(1)
PY
}
