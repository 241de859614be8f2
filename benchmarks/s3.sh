#!/usr/bin/env bash
# The S3 backend's figures against a throw-away Ceph RGW (tests/rgw/start), all on
# loopback: memory per uploading and per downloading session, and STOR/RETR throughput
# through one coftp node with 1, 4 and 8 clients (build/benchmarks/ftp-load), next to
# RGW's own PUT/GET speed with curl in the same run. Then, unless --one-node, the same
# through three nodes behind HAProxy (examples/multi-node/run --bench).
#   benchmarks/s3.sh [--one-node] [MB per client, default 64]
# Prints figures only; nothing passes or fails on them.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
one_node=0
[ "${1:-}" = --one-node ] && { one_node=1; shift; }
mb=${1:-64}
server="$top/build/examples/coftp-server" load="$top/build/benchmarks/ftp-load"
[ -x "$server" ] && [ -x "$load" ] || ninja -C "$top/build" examples/coftp-server benchmarks/ftp-load
"$top/tests/rgw/install"

state="$(mktemp -d "${TMPDIR:-/tmp}/coftp-s3-bench.XXXXXX")"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  "$top/tests/rgw/stop" "$state/rgw"
  rm -rf "$state"
}
trap cleanup EXIT
# RAM for 8 clients' uploads plus their overwrite (memstore frees only after RGW's GC).
COFTP_RGW_MEMSTORE_MIB=$((mb * 20 + 512)) "$top/tests/rgw/start" "$state/rgw"
# shellcheck source=/dev/null
. "$state/rgw/env"

# RGW alone: one curl PUT and GET of the same size, signed by curl (UNSIGNED-PAYLOAD).
head -c $((mb << 20)) /dev/urandom > "$state/blob"
sig=(--aws-sigv4 "aws:amz:$COFTP_S3_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
     -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
put=$(curl -sS -o /dev/null -w '%{speed_upload}' "${sig[@]}" -T "$state/blob" "$COFTP_S3_ENDPOINT/$COFTP_S3_BUCKET/raw")
get=$(curl -sS -o /dev/null -w '%{speed_download}' "${sig[@]}" "$COFTP_S3_ENDPOINT/$COFTP_S3_BUCKET/raw")
awk -v p="$put" -v g="$get" -v mb="$mb" 'BEGIN { printf "RGW alone (curl, %d MiB): PUT %.1f MiB/s, GET %.1f MiB/s\n", mb, p / 1048576, g / 1048576 }'

"$server" --allow-root --quiet --port 0 --threads 2 --user bench:bench --s3-endpoint "$COFTP_S3_ENDPOINT" \
  --s3-bucket "$COFTP_S3_BUCKET" --s3-region "$COFTP_S3_REGION" --s3-prefix bench/ >"$state/server.out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$state/server.out" && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$state/server.out")
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }
base=$(hwm)
echo "coftp-server (2 threads) over RGW: peak RSS at start $base KiB"
common=(--port "$port" --user bench --pass bench --server-pid "$pid")
for n in 1 4 8; do
  before=$(hwm)
  line=$("$load" transfer "${common[@]}" --stor "up$n" --size $((mb << 20)) --clients "$n" | grep '^RESULT')
  after=$(hwm)
  echo "STOR, $n client(s), $mb MiB each: $(sed 's/.* mibs=\([^ ]*\).*cpu_s_per_gib=\([^ ]*\).*failed=\([0-9]*\).*/\1 MiB\/s, server CPU \2 s\/GiB, failed \3/' <<< "$line");" \
       "peak RSS $after KiB: $(( (after - base) / n )) KiB per uploading session above the start"
done
for n in 1 4 8; do
  line=$("$load" transfer "${common[@]}" --retr "up8.$((n - 1))" --clients "$n" | grep '^RESULT')
  echo "RETR, $n client(s): $(sed 's/.* mibs=\([^ ]*\).*cpu_s_per_gib=\([^ ]*\).*failed=\([0-9]*\).*/\1 MiB\/s, server CPU \2 s\/GiB, failed \3/' <<< "$line")"
done
echo "(peak RSS after the downloads: $(hwm) KiB)"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

if [ "$one_node" = 0 ]; then
  echo "--- three nodes behind HAProxy (examples/multi-node/run --bench) ---"
  BENCH_MB=$mb COFTP_SERVER="$server" "$top/examples/multi-node/run" --bench
fi
