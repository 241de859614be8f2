#!/usr/bin/env bash
# coftp against vsftpd, pure-ftpd and fineftp-server: the same ftp-load workloads against each,
# in interleaved repetitions, inside a private network namespace (loopback only). Prints one
# markdown table: each server's median, its ratio to coftp, and the issue's target for coftp;
# iperf3's loopback throughput from the same run is the physical ceiling.
#
#   sudo benchmarks/compare.sh                  # full run, all four servers (~10 min)
#   sudo benchmarks/compare.sh --quick          # < 1 min: small sizes, 1 repetition, peers
#                                               # only if present without network; exit 1 if
#                                               # any workload failed against coftp
#   benchmarks/compare.sh --servers coftp,vsftpd --reps 5
#
# Options: --quick, --reps N, --servers LIST (coftp,vsftpd,pure-ftpd,fineftp), --build DIR.
# Environment: BUILD (./build), SIZE_MIB (1024; quick 64), REPS (3; quick 1), SECONDS_EACH (5;
# quick 1), LIST_COUNT (20; quick 3), NOOP_COUNT (20000; quick 2000), IDLE_SESSIONS (1000;
# quick 200), BIG_SESSIONS ("10000 19000"; quick none) held by coftp and fineftp,
# FINEFTP_SRC (a fineftp-server checkout; default: the cache's clone),
# CACHE (${XDG_CACHE_HOME:-~/.cache}/coftp-bench: pure-ftpd's unpacked package, fineftp's
# clone and build; never inside the repository).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$REPO/benchmarks/$(basename "${BASH_SOURCE[0]}")"
BUILD=${BUILD:-$REPO/build}
CACHE=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coftp-bench}
QUICK=0
SERVERS_ARG=""
REPS_ARG=""
ARGS=("$@")

usage() { sed -n '2,20s/^# \{0,1\}//p' "$SELF"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --reps) REPS_ARG=${2:?}; shift 2 ;;
    --servers) SERVERS_ARG=${2:?}; shift 2 ;;
    --build) BUILD=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  SIZE_MIB=${SIZE_MIB:-64}; REPS=${REPS:-1}; SECONDS_EACH=${SECONDS_EACH:-1}; LIST_COUNT=${LIST_COUNT:-3}
  NOOP_COUNT=${NOOP_COUNT:-2000}; IDLE_SESSIONS=${IDLE_SESSIONS:-200}; BIG_SESSIONS=${BIG_SESSIONS:-}
  IPERF_SECONDS=1
  TIMEOUTS="--op-timeout 5 --data-timeout 10"  # a stalled server fails the smoke test soon
else
  SIZE_MIB=${SIZE_MIB:-1024}; REPS=${REPS:-3}; SECONDS_EACH=${SECONDS_EACH:-5}; LIST_COUNT=${LIST_COUNT:-20}
  NOOP_COUNT=${NOOP_COUNT:-20000}; IDLE_SESSIONS=${IDLE_SESSIONS:-1000}; BIG_SESSIONS=${BIG_SESSIONS-10000 19000}
  IPERF_SECONDS=3
  TIMEOUTS=""
fi
[ -n "$REPS_ARG" ] && REPS=$REPS_ARG
LIST_FILES=10000
ALL_SERVERS=(coftp vsftpd pure-ftpd fineftp)
IFS=, read -r -a WANTED <<<"${SERVERS_ARG:-coftp,vsftpd,pure-ftpd,fineftp}"
wanted() { local s; for s in "${WANTED[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

log() { printf '%s\n' "$*" >&2; }
SERVER=$BUILD/examples/coftp-server
LOAD=$BUILD/benchmarks/ftp-load
for exe in "$SERVER" "$LOAD"; do
  [ -x "$exe" ] || { log "missing $exe: build first (meson setup build && ninja -C build)"; exit 1; }
done
case "$CACHE/" in "$REPO"/*) log "CACHE=$CACHE is inside the repository: choose another"; exit 2 ;; esac

# ---------------------------------------------------------------------------------------------
# Outside the namespace: find (and in a full run, install or build) the peers, then re-exec.
if [ -z "${COFTP_BENCH_INSIDE:-}" ]; then
  SKIPPED=""
  skip() { log "== $1: skipped ($2)"; SKIPPED+="$1: $2"$'\n'; }
  root=0; [ "$(id -u)" = 0 ] && root=1
  mkdir -p "$CACHE" 2>/dev/null || true
  apt_install() {  # full runs only; services are not started
    local created=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && created=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; } || rc=1
    [ "$created" = 1 ] && rm -f /usr/sbin/policy-rc.d
    return $rc
  }

  VSFTPD_BIN=""; PURE_BIN=""; FINEFTP_BIN=""; IPERF_BIN=""
  if wanted vsftpd; then
    if [ "$root" = 0 ]; then skip vsftpd "needs root: it runs as a throw-away local user"
    else
      if ! command -v vsftpd >/dev/null && [ "$QUICK" = 0 ]; then log "== installing vsftpd"; apt_install vsftpd || true; fi
      VSFTPD_BIN=$(command -v vsftpd || true)
      [ -n "$VSFTPD_BIN" ] || skip vsftpd "not installed (apt-get install vsftpd; --quick installs nothing)"
    fi
  fi
  if wanted pure-ftpd; then
    PURE_DIR=$CACHE/pure-ftpd
    if [ "$root" = 0 ]; then skip pure-ftpd "needs root"
    else
      if [ ! -x "$PURE_DIR/usr/sbin/pure-ftpd" ] && [ "$QUICK" = 0 ]; then
        # pure-ftpd conflicts with vsftpd in apt: unpack its package instead of installing it.
        log "== unpacking pure-ftpd into $PURE_DIR (apt-get download + dpkg -x)"
        ( cd "$CACHE" && rm -f pure-ftpd_*.deb && apt-get download pure-ftpd >/dev/null 2>&1 &&
          rm -rf "$PURE_DIR" && dpkg -x pure-ftpd_*.deb "$PURE_DIR" ) || true
        if [ -x "$PURE_DIR/usr/sbin/pure-ftpd" ] && ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep -q 'not found'; then
          apt_install libsodium23 libcap2 libpam0g libssl3 libcrypt1 || true
        fi
      fi
      if [ ! -x "$PURE_DIR/usr/sbin/pure-ftpd" ]; then skip pure-ftpd "not unpacked in $PURE_DIR (a full run does it; --quick uses no network)"
      elif ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep -q 'not found'; then skip pure-ftpd "libraries missing: $(ldd "$PURE_DIR/usr/sbin/pure-ftpd" | grep 'not found' | tr -s ' \t\n' ' ')"
      else PURE_BIN=$PURE_DIR/usr/sbin/pure-ftpd; fi
    fi
  fi
  if wanted fineftp; then
    # fineftp-server from its public source, built beside the repository (never inside it)
    # against Debian's Asio, with the benchmark's own main (benchmarks/fineftp_main.cpp).
    FSRC=${FINEFTP_SRC:-$CACHE/fineftp-server}
    FBUILD=$CACHE/fineftp-build
    if [ ! -f "$FSRC/CMakeLists.txt" ] && [ -z "${FINEFTP_SRC:-}" ] && [ "$QUICK" = 0 ]; then
      log "== cloning fineftp-server into $FSRC"
      timeout 120 git clone -q --depth 1 https://github.com/eclipse-ecal/fineftp-server "$FSRC" 2>/dev/null || rm -rf "$FSRC"
    fi
    FSRC_REAL=$( [ -d "$FSRC" ] && cd "$FSRC" && pwd -P || echo "$FSRC")
    if [ ! -f "$FSRC/CMakeLists.txt" ]; then
      skip fineftp "no source at $FSRC: set FINEFTP_SRC to a checkout of https://github.com/eclipse-ecal/fineftp-server (a full run clones it when GitHub is reachable)"
    elif case "$FSRC_REAL/" in "$(cd "$REPO" && pwd -P)"/*) true ;; *) false ;; esac; then
      skip fineftp "FINEFTP_SRC=$FSRC is inside the repository: keep it beside it"
    else
      lib=$FBUILD/fineftp-server/libfineftp-server.a
      if [ ! -f "$lib" ] && [ "$QUICK" = 0 ]; then
        log "== building fineftp-server from $FSRC in $FBUILD (cmake, Debian's Asio)"
        { cmake -S "$FSRC" -B "$FBUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
            -DFINEFTP_SERVER_USE_BUILTIN_ASIO=OFF -Dasio_INCLUDE_DIR=/usr/include \
            -DCMAKE_MODULE_PATH="$FSRC/thirdparty/asio-module" -DFINEFTP_SERVER_BUILD_SAMPLES=OFF &&
          cmake --build "$FBUILD" -j "$(nproc)"; } >"$CACHE/fineftp-build.log" 2>&1 ||
          log "   fineftp build failed: see $CACHE/fineftp-build.log"
      fi
      exe=$FBUILD/fineftp-bench
      if [ ! -f "$lib" ]; then skip fineftp "not built in $FBUILD (a full run builds it: about 1 min)"
      else
        if [ ! -x "$exe" ] || [ "$REPO/benchmarks/fineftp_main.cpp" -nt "$exe" ] || [ "$lib" -nt "$exe" ]; then
          g++ -O2 -std=c++17 -DASIO_STANDALONE -I "$FSRC/fineftp-server/include" -I "$FBUILD/fineftp-server/include" \
            "$REPO/benchmarks/fineftp_main.cpp" "$lib" -pthread -o "$exe" 2>"$CACHE/fineftp-main.log" ||
            log "   fineftp main failed to compile: see $CACHE/fineftp-main.log"
        fi
        if [ -x "$exe" ]; then FINEFTP_BIN=$exe; FINEFTP_VERSION=$(git -C "$FSRC" describe --always --tags 2>/dev/null || echo '?')
        else skip fineftp "benchmarks/fineftp_main.cpp did not compile"; fi
      fi
    fi
  fi
  IPERF_BIN=$(command -v iperf3 || true)
  if [ -z "$IPERF_BIN" ] && [ "$QUICK" = 0 ] && [ "$root" = 1 ]; then log "== installing iperf3"; apt_install iperf3 || true; IPERF_BIN=$(command -v iperf3 || true); fi
  [ -n "$IPERF_BIN" ] || skip iperf3 "not installed (apt-get install iperf3)"

  export COFTP_BENCH_INSIDE=1 VSFTPD_BIN PURE_BIN FINEFTP_BIN IPERF_BIN SKIPPED FINEFTP_VERSION="${FINEFTP_VERSION:-}"
  export SIZE_MIB REPS SECONDS_EACH LIST_COUNT NOOP_COUNT IDLE_SESSIONS BIG_SESSIONS BUILD CACHE
  if [ "$root" = 1 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    exec unshare -n -- bash "$SELF" "${ARGS[@]}"
  fi
  if [ "$root" = 1 ]; then log "== unshare -n (or ip, from iproute2) unavailable: no private network namespace; coftp alone on the host's loopback"
  else log "== not root: no private network namespace; coftp alone on the host's loopback"; fi
  export COFTP_BENCH_INSIDE=host
  exec bash "$SELF" "${ARGS[@]}"
fi

# ---------------------------------------------------------------------------------------------
# Inside the namespace (or, without root, on the host's loopback).
NETNS=0
if [ "$COFTP_BENCH_INSIDE" = 1 ]; then
  NETNS=1
  ip link set lo up
  # Time-wait sockets of earlier workloads would hold passive ports and source ports for 60 s;
  # in this namespace only, the kernel drops them beyond a few thousand (harmless on loopback).
  sysctl -qw net.ipv4.tcp_max_tw_buckets=4096 2>/dev/null || true
fi
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$hard"; fi

CLK_TCK=$(getconf CLK_TCK)
SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
TMP=$(mktemp -d /tmp/coftp-compare.XXXXXX)
chmod 755 "$TMP"
declare -A PID PORT USERN PASSW CONC
PIDS=()
BENCH_USER=""
cleanup() {
  local rc=$? p k
  for p in "${PIDS[@]}"; do
    for k in $(descendants "$p"); do kill -TERM "$k" 2>/dev/null || true; done
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "$BENCH_USER" ] && userdel "$BENCH_USER" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
descendants() { local p; for p in $(pgrep -P "$1" 2>/dev/null); do echo "$p"; descendants "$p"; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

CMDS=()
record() { CMDS+=("$*"); }

log "== data in $TMP: a ${SIZE_MIB} MiB file of random bytes and a directory of $LIST_FILES empty files"
HOMEDIR=$TMP/home
mkdir -p "$HOMEDIR/many"
head -c "$SIZE_BYTES" /dev/urandom >"$HOMEDIR/big.bin"
(cd "$HOMEDIR/many" && seq -f 'file-%05g.txt' 1 "$LIST_FILES" | xargs touch)
chmod -R a+rX "$HOMEDIR"
PASS=bench-pw
if [ "$(id -u)" = 0 ]; then
  # One throw-away local user for every server: vsftpd and pure-ftpd log it in through the
  # system (PAM, crypt); coftp runs as it (--run-as); SHA-512 with 1,000 rounds so that logins
  # measure the servers rather than the hash.
  BENCH_USER=ftpbench$$
  useradd -M -d "$HOMEDIR" -s /bin/bash "$BENCH_USER"
  echo "$BENCH_USER:$PASS" | chpasswd -c SHA512 -s 1000
  chown -R "$BENCH_USER" "$HOMEDIR"
fi

cat >"$TMP/subreaper.py" <<'EOF'
# Runs a forking server as the child of a subreaper, which reaps every orphan: the CPU time of
# session processes whose parents did not wait for them stays in this tree (cutime, cstime).
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
child = os.fork()
if child == 0:
    os.execv(sys.argv[1], sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGTERM))
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
EOF

wait_port() {  # port pid name
  local _
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  log "$3 did not start:"; cat "$TMP/$3.log" >&2 || true
  return 1
}

SERVERS=()
listed() { local s; for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
start_coftp() {
  local cmd=("$SERVER" --host 127.0.0.1 --port "$([ "$NETNS" = 1 ] && echo 2121 || echo 0)" --root "$HOMEDIR"
             --user "bench:$PASS" --quiet --max-sessions 20000 --max-sessions-per-address 20000)
  if [ -n "$BENCH_USER" ]; then cmd+=(--run-as "$BENCH_USER"); fi
  record "${cmd[*]}"
  "${cmd[@]}" >"$TMP/coftp.log" 2>&1 &
  PID[coftp]=$!; PIDS+=("$!")
  local _ port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/coftp.log")
    [ -n "$port" ] && break
    kill -0 "${PID[coftp]}" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { log "coftp-server did not start:"; cat "$TMP/coftp.log" >&2; return 1; }
  PORT[coftp]=$port; USERN[coftp]=bench; PASSW[coftp]=$PASS; CONC[coftp]=100
  listed coftp || SERVERS+=(coftp)
}
start_vsftpd() {
  mkdir -p /var/run/vsftpd/empty
  cat >"$TMP/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=2122
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pam_service_name=vsftpd
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
max_clients=0
max_per_ip=0
idle_session_timeout=600
data_connection_timeout=300
xferlog_enable=NO
syslog_enable=NO
connect_from_port_20=NO
secure_chroot_dir=/var/run/vsftpd/empty
EOF
  record "python3 subreaper.py $VSFTPD_BIN vsftpd.conf   # vsftpd.conf: $(tr '\n' ' ' <"$TMP/vsftpd.conf")"
  python3 "$TMP/subreaper.py" "$VSFTPD_BIN" "$TMP/vsftpd.conf" >"$TMP/vsftpd.log" 2>&1 &
  PID[vsftpd]=$!; PIDS+=("$!")
  wait_port 2122 "${PID[vsftpd]}" vsftpd || return 1
  # A backlog of 32 and a fork before each accept: open idle sessions 16 at a time.
  PORT[vsftpd]=2122; USERN[vsftpd]=$BENCH_USER; PASSW[vsftpd]=$PASS; CONC[vsftpd]=16
  listed vsftpd || SERVERS+=(vsftpd)
}
start_pureftpd() {
  # Standalone, system accounts (crypt), no anonymous, no DNS, listings of up to 20,000 files
  # (its default stops at 2,000), enough clients for the idle sessions.
  local cmd=("$PURE_BIN" -S 127.0.0.1,2123 -l unix -E -H -L 20000:5 -c 20000 -C 20000 -I 600 -U 133:022)
  record "python3 subreaper.py ${cmd[*]}"
  python3 "$TMP/subreaper.py" "${cmd[@]}" >"$TMP/pure-ftpd.log" 2>&1 &
  PID[pure-ftpd]=$!; PIDS+=("$!")
  wait_port 2123 "${PID[pure-ftpd]}" pure-ftpd || return 1
  PORT[pure-ftpd]=2123; USERN[pure-ftpd]=$BENCH_USER; PASSW[pure-ftpd]=$PASS; CONC[pure-ftpd]=16
  listed pure-ftpd || SERVERS+=(pure-ftpd)
}
start_fineftp() {
  record "$FINEFTP_BIN 2124 $HOMEDIR bench $PASS   # benchmarks/fineftp_main.cpp, fineftp-server $FINEFTP_VERSION"
  "$FINEFTP_BIN" 2124 "$HOMEDIR" bench "$PASS" >"$TMP/fineftp.log" 2>&1 &
  PID[fineftp]=$!; PIDS+=("$!")
  wait_port 2124 "${PID[fineftp]}" fineftp || return 1
  PORT[fineftp]=2124; USERN[fineftp]=bench; PASSW[fineftp]=$PASS; CONC[fineftp]=100
  listed fineftp || SERVERS+=(fineftp)
}

start_coftp || exit 1
log "== coftp-server pid ${PID[coftp]} on 127.0.0.1:${PORT[coftp]}"
[ -n "${VSFTPD_BIN:-}" ] && [ "$NETNS" = 1 ] && { start_vsftpd || SKIPPED+="vsftpd: did not start"$'\n'; }
[ -n "${PURE_BIN:-}" ] && [ "$NETNS" = 1 ] && { start_pureftpd || SKIPPED+="pure-ftpd: did not start"$'\n'; }
[ -n "${FINEFTP_BIN:-}" ] && [ "$NETNS" = 1 ] && { start_fineftp || SKIPPED+="fineftp: did not start"$'\n'; }
log "== servers: ${SERVERS[*]}"

# ---------------------------------------------------------------------------------------------
# Workloads. R[server.key] holds one value per repetition, a line each.
declare -A R FAILS FAIL_FIRST
OKS=0; FAILED_COFTP=0
field() { sed -n "s/.*RESULT .*\b$2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
add() { R[$1]+="$2"$'\n'; }
SOURCES16=$(seq -s, -f '127.0.0.%g' 2 17)

# load server name log-suffix ftp-load-arguments... : runs ftp-load, keeps its output.
load() {
  local s=$1 name=$2; shift 2
  local out=$TMP/$s.$name.out
  local cmd=("$LOAD" "$@" --host 127.0.0.1 --port "${PORT[$s]}" --user "${USERN[$s]}" --pass "${PASSW[$s]}"
             --server-pid "${PID[$s]}" $TIMEOUTS)
  record "${cmd[*]}   # $s"
  if "${cmd[@]}" >"$out" 2>&1; then
    [ "$s" = coftp ] && OKS=$((OKS + 1))
  else
    FAILS[$s]=$(( ${FAILS[$s]:-0} + 1 ))
    [ -z "${FAIL_FIRST[$s]:-}" ] && FAIL_FIRST[$s]="$name: $(grep -m1 -E 'first failure|first error|ftp-load:' "$out" || tail -1 "$out")"
    [ "$s" = coftp ] && FAILED_COFTP=$((FAILED_COFTP + 1))
    log "   $s $name FAILED: $(grep -m1 -E 'first failure|first error|ftp-load:' "$out" || tail -1 "$out")"
  fi
  if ! kill -0 "${PID[$s]}" 2>/dev/null; then log "$s died during $name:"; tail -20 "$TMP/$s.log" >&2; exit 1; fi
  LAST=$out
}

workload() {  # workload name server
  local w=$1 s=$2 f
  case $w in
    retr1|retr4)
      load "$s" "$w" transfer --retr big.bin --clients "${w#retr}" --source-addresses "$SOURCES16"
      add "$s.$w.mibs" "$(field "$LAST" mibs)"; add "$s.$w.cpu" "$(field "$LAST" cpu_s_per_gib)" ;;
    stor1|stor4)
      load "$s" "$w" transfer --stor "up-$s.bin" --size "$SIZE_BYTES" --clients "${w#stor}" --source-addresses "$SOURCES16"
      add "$s.$w.mibs" "$(field "$LAST" mibs)"; add "$s.$w.cpu" "$(field "$LAST" cpu_s_per_gib)"
      rm -f "$HOMEDIR/up-$s.bin"* ;;
    logins|small)
      load "$s" "$w" "$w" --clients 16 --seconds "$SECONDS_EACH" --source-addresses "$SOURCES16"
      add "$s.$w.rate" "$(field "$LAST" per_s)"; add "$s.$w.cpu" "$(field "$LAST" cpu_ms_each)"
      f=$(field "$LAST" failed); R[$s.$w.failed]=$(( ${R[$s.$w.failed]:-0} + ${f:-0} ))
      f=$(field "$LAST" ok); R[$s.$w.ok]=$(( ${R[$s.$w.ok]:-0} + ${f:-0} )) ;;
    list)
      load "$s" list list --path many --count "$LIST_COUNT" --entries "$LIST_FILES"
      add "$s.list.rate" "$(field "$LAST" per_s)"; add "$s.list.cpu" "$(field "$LAST" cpu_ms_each)" ;;
    noop)
      load "$s" noop noop --count "$NOOP_COUNT"
      add "$s.noop.cpu" "$(field "$LAST" cpu_us_each)"; add "$s.noop.p50" "$(field "$LAST" p50_us)"
      add "$s.noop.p99" "$(field "$LAST" p99_us)" ;;
    noopdl)
      load "$s" noopdl noop --count 10000000 --during-download big.bin
      add "$s.noopdl.p50" "$(field "$LAST" p50_us)"; add "$s.noopdl.p99" "$(field "$LAST" p99_us)"
      add "$s.noopdl.n" "$(field "$LAST" measured)" ;;
  esac
}

idle() {  # server sessions
  local s=$1 n=$2 naddr src procs=1
  naddr=$(( (n + 899) / 900 )); [ "$naddr" -lt 25 ] && naddr=25
  src=$(for i in $(seq 0 $((naddr - 1))); do printf '127.1.%d.%d,' $((i / 250)) $((i % 250 + 1)); done)
  src=${src%,}
  [ "$n" -ge 10000 ] && procs=$(( (n + 9999) / 10000 ))
  load "$s" "idle$n" idle --sessions "$n" --source-addresses "$src" --concurrency "${CONC[$s]}" --processes "$procs" \
    --hold 1 --timeout 300 $([ "$QUICK" = 1 ] || echo --op-timeout 60)
  R[$s.idle$n.pss]=$(field "$LAST" pss_per_session_kib)
  R[$s.idle$n.ok]=$(field "$LAST" ok); R[$s.idle$n.alive]=$(field "$LAST" alive_at_end)
  R[$s.idle$n.procs]=$(field "$LAST" processes)
  sleep 1
}

iperf() {  # streams
  local out=$TMP/iperf$1.json
  record "iperf3 -c 127.0.0.1 -p 5201 -t $IPERF_SECONDS -P $1 -J"
  if "$IPERF_BIN" -c 127.0.0.1 -p 5201 -t "$IPERF_SECONDS" -P "$1" -J >"$out" 2>&1; then
    add "iperf.$1" "$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 8 / 1048576))' "$out")"
  else
    log "   iperf3 -P $1 failed: $(tail -2 "$out")"
  fi
}
if [ -n "${IPERF_BIN:-}" ]; then
  record "iperf3 -s -B 127.0.0.1 -p 5201"
  "$IPERF_BIN" -s -B 127.0.0.1 -p 5201 >"$TMP/iperf3.log" 2>&1 &
  PIDS+=("$!")
  wait_port 5201 "$!" iperf3 || IPERF_BIN=""
fi

# A single-process server started again: memory per session is measured on a fresh heap.
restart() {
  local s=$1 p=${PID[$1]} _
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  "start_$s" || exit 1
}

T0=$(date +%s)
# Idle sessions first, on servers that have served nothing yet; the larger counts on a server
# started again for each.
log "== idle sessions"
for s in "${SERVERS[@]}"; do
  idle "$s" "$IDLE_SESSIONS"; log "   idle $s: $(grep RESULT "$LAST" | sed 's/^RESULT //' | cut -c1-150)"
done
for n in $BIG_SESSIONS; do
  for s in coftp fineftp; do
    listed "$s" || continue
    restart "$s"
    idle "$s" "$n"; log "   idle $s: $(grep RESULT "$LAST" | sed 's/^RESULT //' | cut -c1-150)"
  done
done

WORKLOADS=(retr1 retr4 stor1 stor4 logins small list noop noopdl)
for rep in $(seq "$REPS"); do
  log "== repetition $rep of $REPS"
  if [ -n "${IPERF_BIN:-}" ]; then iperf 1; iperf 4; fi
  for w in "${WORKLOADS[@]}"; do
    for s in "${SERVERS[@]}"; do
      workload "$w" "$s"
      log "   $w $s: $(grep RESULT "$LAST" | sed 's/^RESULT //' | cut -c1-150)"
    done
  done
done
ELAPSED=$(( $(date +%s) - T0 ))

# ---------------------------------------------------------------------------------------------
# Report
median() { awk 'NF { v[++n] = $1 } END { if (n == 0) { print ""; exit } for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t } print (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
med() { printf '%s' "${R[$1]:-}" | median; }
fmt() { [ -z "$1" ] && { echo "–"; return; }; awk -v v="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, v }'; }
ratio() { [ -z "$1" ] || [ -z "$2" ] && { echo "–"; return; }; awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "–"; else printf "%.2f×", a / b }'; }
# target metric-key peer kind(le|ge) factor: "0.41× vsftpd ✓" (coftp against the peer)
target() {
  local key=$1 peer=$2 kind=$3 factor=$4 c p
  c=$(med "coftp.$key"); p=$(med "$peer.$key")
  [ "$peer" = iperf ] && p=$(med "iperf.1")
  if [ -z "$c" ] || [ -z "$p" ]; then echo "– (no $peer)"; return; fi
  awk -v c="$c" -v p="$p" -v k="$kind" -v f="$factor" -v n="$peer" 'BEGIN {
    if (p == 0) { print "–"; exit }
    r = c / p; ok = (k == "le") ? (r <= f) : (r >= f)
    printf "%.2f× %s (%s %s×) %s", r, n, (k == "le") ? "≤" : "≥", f, ok ? "✓" : "✗" }'
}
row() {  # label key decimals target-text
  local label=$1 key=$2 d=$3 tgt=$4 s c v line
  c=$(med "coftp.$key")
  line="| $label | $(fmt "$c" "$d") |"
  for s in "${SERVERS[@]}"; do
    [ "$s" = coftp ] && continue
    v=$(med "$s.$key"); line+=" $(fmt "$v" "$d") | $(ratio "$v" "$c") |"
  done
  echo "$line $tgt |"
}
GIB=$(awk -v m="$SIZE_MIB" 'BEGIN { printf "%g", m / 1024 }')
echo
echo "## coftp against its peers ($([ "$QUICK" = 1 ] && echo quick || echo full) run)"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //');"
versions="coftp $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?') (--threads default)"
listed vsftpd && versions+=", vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null || echo '?')"
listed pure-ftpd && versions+=", pure-ftpd $(dpkg-deb -f "$(ls "$CACHE"/pure-ftpd_*.deb 2>/dev/null | head -1)" Version 2>/dev/null || echo '?')"
listed fineftp && versions+=", fineftp-server ${FINEFTP_VERSION:-?}"
echo "$versions; $REPS repetition(s), medians; file ${SIZE_MIB} MiB;"
echo "$([ "$NETNS" = 1 ] && echo 'private network namespace (unshare -n)' || echo 'host loopback (not root)'); workloads took ${ELAPSED} s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "iperf3 loopback ceiling (same run): $(fmt "$(med iperf.1)" 0) MiB/s with 1 stream, $(fmt "$(med iperf.4)" 0) MiB/s with 4 streams."
while IFS= read -r line; do [ -n "$line" ] && echo "Not measured: $line"; done <<<"${SKIPPED:-}"
echo
hdr="| measure | coftp |"; sep="| --- | ---: |"
for s in "${SERVERS[@]}"; do [ "$s" = coftp ] && continue; hdr+=" $s | ÷ coftp |"; sep+=" ---: | ---: |"; done
echo "$hdr target (coftp) |"; echo "$sep --- |"
row "RETR ${GIB} GiB, 1 client: server CPU s/GiB" retr1.cpu 3 "$(target retr1.cpu vsftpd le 0.8)"
row "RETR ${GIB} GiB, 1 client: MiB/s" retr1.mibs 0 "$(target retr1.mibs iperf ge 0.95)"
row "RETR ${GIB} GiB each, 4 clients: server CPU s/GiB" retr4.cpu 3 ""
row "RETR ${GIB} GiB each, 4 clients: MiB/s (sum)" retr4.mibs 0 ""
row "STOR ${GIB} GiB, 1 client: server CPU s/GiB" stor1.cpu 3 "$(target stor1.cpu pure-ftpd le 0.8)"
row "STOR ${GIB} GiB, 1 client: MiB/s" stor1.mibs 0 ""
row "STOR ${GIB} GiB each, 4 clients: server CPU s/GiB" stor4.cpu 3 ""
row "STOR ${GIB} GiB each, 4 clients: MiB/s (sum)" stor4.mibs 0 ""
row "logins/s, 16 clients" logins.rate 0 "$(target logins.rate fineftp ge 1.5)"
row "server CPU per login, ms" logins.cpu 4 "≤ 0.12 ms"
row "small files (4 KiB STOR+RETR) cycles/s, 16 clients" small.rate 0 "$(target small.rate fineftp ge 1.5)"
row "server CPU per small-file cycle, ms" small.cpu 3 ""
row "LIST of $LIST_FILES files: server CPU ms" list.cpu 1 "$(target list.cpu pure-ftpd le 0.75)"
row "LIST of $LIST_FILES files: listings/s" list.rate 1 ""
row "NOOP: server CPU µs" noop.cpu 1 "$(target noop.cpu vsftpd le 0.7) (≤ 12 µs)"
row "NOOP round trip p50 µs, alone" noop.p50 0 ""
row "NOOP round trip p99 µs, alone" noop.p99 0 ""
row "NOOP p99 µs while a ${GIB} GiB RETR runs" noopdl.p99 0 "$(target noopdl.p99 vsftpd le 1)"
row "idle logged-in session, PSS KiB ($IDLE_SESSIONS sessions)" "idle$IDLE_SESSIONS.pss" 1 "≤ 3 KiB"
for n in $BIG_SESSIONS; do
  line="| sessions held / PSS KiB each at $n | ${R[coftp.idle$n.alive]:-–} / $(fmt "${R[coftp.idle$n.pss]:-}" 1) |"
  for s in "${SERVERS[@]}"; do
    [ "$s" = coftp ] && continue
    if [ -n "${R[$s.idle$n.alive]:-}" ]; then line+=" ${R[$s.idle$n.alive]} / $(fmt "${R[$s.idle$n.pss]}" 1) | |"; else line+=" – | |"; fi
  done
  echo "$line $([ "$n" -ge 19000 ] && echo "19,000 held in one process") |"
done
line="| failed workload runs (logins, small-file cycles failed) | ${FAILS[coftp]:-0} (${R[coftp.logins.failed]:-0}, ${R[coftp.small.failed]:-0}) |"
for s in "${SERVERS[@]}"; do [ "$s" = coftp ] && continue; line+=" ${FAILS[$s]:-0} (${R[$s.logins.failed]:-0}, ${R[$s.small.failed]:-0}) | |"; done
echo "$line 0 |"
echo
echo "÷ coftp: the server's median divided by coftp's. CPU: the server's process tree (/proc/PID/stat"
echo "utime+stime+cutime+cstime; forking servers under a subreaper). PSS: /proc/PID/smaps_rollup."
for s in "${SERVERS[@]}"; do [ -n "${FAIL_FIRST[$s]:-}" ] && echo "First failure of $s: ${FAIL_FIRST[$s]}"; done
log ""
log "Commands (ports and temp paths of this run):"
for c in "${CMDS[@]}"; do log "  $c"; done
echo
echo "bench: $OKS passed, $FAILED_COFTP failed"
[ "$FAILED_COFTP" -eq 0 ]
