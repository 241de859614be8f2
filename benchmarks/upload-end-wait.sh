#!/usr/bin/env bash
# What server_options::upload_end_wait (coftp-server --upload-end-wait) costs: small-file
# cycles (STOR + RETR of 4 KiB, 16 clients) against coftp-server with the wait at 0 and
# at its default (1000 us), interleaved, REPS times each; medians of cycles/s, p50/p99 of
# a cycle and server CPU per cycle, and the ratio of the default to 0.
#   benchmarks/upload-end-wait.sh [BUILD] [REPS] [SECONDS]    # defaults: build 3 5
# Loopback only; the server is started and stopped here, on a temporary root.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$top/build}"
reps="${2:-3}"
seconds="${3:-5}"
server="$build/examples/coftp-server"
load="$build/benchmarks/ftp-load"
for b in "$server" "$load"; do
  [ -x "$b" ] || { echo "upload-end-wait: $b is missing: ninja -C $build" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=

# run WAIT_US: one measurement; prints its RESULT line's per_s, p50_us, p99_us, cpu_ms_each.
run() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/root"
  local as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(--allow-root)  # a benchmark on a throw-away root
  "$server" --host 127.0.0.1 --port "$port" --root "$work/root" --user bench:bench --quiet \
    --upload-end-wait "$1" "${as_root[@]}" >/dev/null &
  pid=$!
  local up=0
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { up=1; break; }
    sleep 0.05
  done
  [ "$up" = 1 ] || { echo "upload-end-wait: coftp-server did not start" >&2; exit 1; }
  local out
  out=$("$load" small --port "$port" --user bench --pass bench --clients 16 --seconds "$seconds" \
    --server-pid "$pid" | grep '^RESULT')
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  for k in per_s p50_us p99_us cpu_ms_each; do
    sed -n "s/.* $k=\([0-9.]*\).*/\1/p" <<<"$out"
  done | paste -sd' '
}

declare -A res
for r in $(seq 1 "$reps"); do
  for w in 0 1000; do
    res[$w]+="$(run "$w")"$'\n'
    echo "rep $r, --upload-end-wait $w: $(tail -1 <<<"${res[$w]%$'\n'}")" >&2
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "| --upload-end-wait | cycles/s | p50 µs | p99 µs | server CPU per cycle, ms |"
echo "|---:|---:|---:|---:|---:|"
declare -A med
for w in 0 1000; do
  line="| $w"
  for col in 1 2 3 4; do
    m=$(printf '%s' "${res[$w]}" | awk -v c=$col 'NF {print $c}' | median)
    med[$w,$col]=$m
    line+=" | $m"
  done
  echo "$line |"
done
awk -v a="${med[1000,1]}" -v b="${med[0,1]}" -v c="${med[1000,4]}" -v d="${med[0,4]}" -v r="$reps" \
  'BEGIN {printf "ratio 1000/0: cycles/s %.3f, CPU per cycle %.3f (medians of %s runs each)\n", a / b, c / d, r}'
