#!/bin/sh
# tests/check_promtool.sh - checks Prometheus text (coftp/metrics.hpp's output) with
# `promtool check metrics`: the format parses and passes promtool's lint (HELP text,
# counters ending in _total, histogram suffixes, base units...).
#
# Usage: tests/check_promtool.sh FILE|URL...
#        tests/check_promtool.sh --run TEST_BINARY [TEST_ARGS...]
# A FILE is read as is ("-" for standard input); a URL (http://HOST:PORT/metrics) is
# fetched with curl, or python3 when curl is missing. With --run, the doctest binary runs
# the "metrics: *" test cases with COFTP_METRICS_OUT set, and the /metrics text they
# scraped from a real server (and the registry with extra sources) is what is checked.
#
# Exit status: 0 when every input passes, 1 when one fails (promtool's complaints are
# printed), 2 for a usage error, 77 ("skipped" for meson) when promtool is not installed
# (Debian: apt-get install --no-install-recommends prometheus).
set -eu

usage() {
  echo "usage: $0 FILE|URL... | --run TEST_BINARY [TEST_ARGS...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage

PROMTOOL=${PROMTOOL:-promtool}
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
  echo "check_promtool: $PROMTOOL not found (apt-get install --no-install-recommends prometheus); skipped" >&2
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/coftp-promtool.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

fetch() {  # URL -> standard output
  if command -v curl >/dev/null 2>&1; then
    curl --silent --show-error --fail --max-time 10 "$1"
  else
    python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' "$1"
  fi
}

if [ "$1" = "--run" ]; then
  [ $# -ge 2 ] || usage
  binary=$2
  shift 2
  COFTP_METRICS_OUT="$work/scrape.prom" "$binary" --test-case='metrics: *' "$@" >"$work/test.log" 2>&1 || {
    cat "$work/test.log" >&2
    echo "check_promtool: $binary failed" >&2
    exit 1
  }
  set -- "$work/scrape.prom" "$work/scrape.prom.sources"
  for f in "$@"; do
    [ -s "$f" ] || { echo "check_promtool: the tests wrote no $f" >&2; exit 1; }
  done
fi

status=0
n=0
for input in "$@"; do
  n=$((n + 1))
  case $input in
    http://* | https://*)
      file="$work/input$n.prom"
      if ! fetch "$input" >"$file"; then
        echo "FAIL $input: cannot fetch" >&2
        status=1
        continue
      fi
      ;;
    -) file="$work/input$n.prom"; cat >"$file" ;;
    *) file=$input ;;
  esac
  if [ ! -r "$file" ]; then
    echo "FAIL $input: cannot read" >&2
    status=1
    continue
  fi
  # promtool prints nothing and exits 0 when the text is clean; lint problems exit 3,
  # parse errors 1. Either is a failure here.
  if out=$("$PROMTOOL" check metrics <"$file" 2>&1) && [ -z "$out" ]; then
    echo "ok   $input ($(grep -c '^# TYPE ' "$file") families, $(grep -vc '^#' "$file") samples)"
  else
    echo "FAIL $input:" >&2
    printf '%s\n' "$out" >&2
    status=1
  fi
done
exit $status
