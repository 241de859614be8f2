#!/bin/sh
# tests/check_headers.sh - every coftp header compiles on its own (STYLE.md section 7,
# Beast's self-contained header test).
#
# Usage: tests/check_headers.sh [SOURCE_ROOT]     (default: the parent of this script's
# directory). For each header under include/coftp/ it compiles the one-line translation
# unit `#include <coftp/X.hpp>` with -fsyntax-only and strict warnings, two at a time,
# prints one line per header and exits non-zero if any fails.
#
# Checked: every header, detail/ included (detail headers are shared by several public
# headers and must stand alone too). Skipped: impl/, whose files are continuations of
# the public header that includes them (as Beast's http/impl/*.hpp).
#
# Also checked: each fuzz harness (tests/fuzz/fuzz_*.cpp). They are built with clang by
# tests/fuzz/run only, so an API change that breaks one would otherwise first show in
# the fuzz pass; here g++ finds it with the headers, in the fast suite.
#
# Environment: CXX (default c++), COFTP_HEADER_FLAGS (extra flags, e.g. -DCOFTP_HAS_TLS),
# JOBS (parallel compilations, default 2).
set -eu

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
test -d include/coftp || { echo "check_headers: no include/coftp under $root" >&2; exit 2; }

CXX=${CXX:-c++}
JOBS=${JOBS:-2}
COFTP_HEADER_FLAGS=${COFTP_HEADER_FLAGS:-}
export CXX COFTP_HEADER_FLAGS

logs=$(mktemp -d "${TMPDIR:-/tmp}/coftp-headers.XXXXXX")
trap 'rm -rf "$logs"' EXIT INT TERM
export logs

headers=$( (cd include && find coftp -name '*.hpp' -not -path '*/impl/*'; cd .. &&
            find tests/fuzz -name 'fuzz_*.cpp') | LC_ALL=C sort)
count=$(printf '%s\n' "$headers" | wc -l)
echo "checking $count headers and fuzz harnesses with $CXX, $JOBS at a time"

start=$(date +%s)
status=0
# One compilation per header; each prints its verdict in one short write, so lines
# from parallel jobs do not interleave. Compiler output goes to a log shown at the end.
printf '%s\n' "$headers" | xargs -P "$JOBS" -I '{}' sh -c '
  h=$1
  log="$logs/$(printf "%s" "$h" | tr / +).log"
  t0=$(date +%s)
  case "$h" in
    *.cpp) src=$h ;;  # a fuzz harness: compiled itself
    *) src=- ;;       # a header: the one-line unit that includes it
  esac
  # shellcheck disable=SC2086
  if printf "#include <%s>\n" "$h" |
       "$CXX" -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror $COFTP_HEADER_FLAGS \
              -Iinclude -x c++ "$src" >"$log" 2>&1; then
    printf "ok    %-36s %3ss\n" "$h" "$(( $(date +%s) - t0 ))"
    rm -f "$log"
  else
    printf "FAIL  %-36s %3ss\n" "$h" "$(( $(date +%s) - t0 ))"
    exit 1
  fi
' check_header '{}' || status=1

for log in "$logs"/*.log; do
  [ -e "$log" ] || continue
  echo "---- $(basename "$log" .log | tr + /) ----"
  head -n 60 "$log"
done

failed=$(find "$logs" -name '*.log' | wc -l)
echo "$((count - failed))/$count headers and fuzz harnesses compile alone ($(( $(date +%s) - start ))s)"
echo "headers: $((count - failed)) passed, $failed failed"
exit $status
