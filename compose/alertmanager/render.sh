#!/bin/sh
# render.sh FILE: FILE with every ${NAME} replaced by the environment's NAME (empty when
# unset), on standard output. POSIX awk, so that it runs in the Alertmanager image
# (busybox) and here alike; values may hold any character, as nothing is re-parsed.
exec awk '{
  out = ""
  while (match($0, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
    out = out substr($0, 1, RSTART - 1) ENVIRON[substr($0, RSTART + 2, RLENGTH - 3)]
    $0 = substr($0, RSTART + RLENGTH)
  }
  print out $0
}' "$1"
