#!/usr/bin/env bash
# Foundation benchmarks of coftp-server on loopback: 1 GiB RETR/STOR throughput with curl and
# the server's CPU time per GiB, memory per idle logged-in session (1,000 sessions), and NOOP
# round-trip latency alone and during a 1 GiB download. Prints a markdown table and the exact
# commands. Builds nothing: expects a built build directory (default: ./build).
#
#   benchmarks/run-foundation.sh                 # coftp only
#   benchmarks/run-foundation.sh --peer vsftpd   # and Debian's vsftpd in the same run
#
# Environment: BUILD (build directory), SIZE_MIB (1024), REPS (3), SESSIONS (1000),
# NOOP_COUNT (20000), THREADS (coftp-server --threads, default nproc).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
SESSIONS=${SESSIONS:-1000}
NOOP_COUNT=${NOOP_COUNT:-20000}
THREADS=${THREADS:-$(nproc)}
PEER=""

usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --peer) PEER=${2:?--peer needs a name}; shift 2 ;;
    --peer=*) PEER=${1#--peer=}; shift ;;
    --build) BUILD=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$PEER" in ""|vsftpd) ;; *) echo "--peer: only vsftpd is supported" >&2; exit 2 ;; esac

SERVER=$BUILD/examples/coftp-server
LOAD=$BUILD/benchmarks/ftp-load
for exe in "$SERVER" "$LOAD"; do
  [ -x "$exe" ] || { echo "missing $exe: build first (meson setup build && ninja -C build)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "curl missing: apt-get install -y curl" >&2; exit 1; }

# 1,000 sessions need 1,000 descriptors in the server and as many in ftp-load: raise the soft
# limit to the hard one (children inherit it).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n $((SESSIONS * 2 + 1024)); else ulimit -n "$hard"; fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SESSIONS + 200)) ]; then
  echo "warning: ulimit -n is $(ulimit -n), too low for $SESSIONS sessions" >&2
fi

CLK_TCK=$(getconf CLK_TCK)
SIZE_BYTES=$((SIZE_MIB * 1024 * 1024))
GIB=$(awk -v m="$SIZE_MIB" 'BEGIN { printf "%g", m / 1024 }')
TMP=$(mktemp -d /tmp/coftp-bench.XXXXXX)
chmod 755 "$TMP"  # a peer's session process runs as a throw-away user and must reach its files

PIDS=()           # servers started here
VSFTPD_USER=""    # created here, deleted at the end
POLICY_CREATED=0

# Stops a server (and, for vsftpd, its session processes): SIGTERM, then SIGKILL after 15 s.
descendants() { local p; for p in $(pgrep -P "$1" 2>/dev/null); do echo "$p"; descendants "$p"; done; }
stop_server() {
  local pid=$1 kids
  kill -0 "$pid" 2>/dev/null || return 0
  kids=$(descendants "$pid" | tr '\n' ' ')
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "warning: pid $pid ignored SIGTERM for 15 s, killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  for k in $kids; do kill -TERM "$k" 2>/dev/null || true; done
}
cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do stop_server "$pid"; done
  if [ -n "$VSFTPD_USER" ]; then userdel "$VSFTPD_USER" 2>/dev/null || true; fi
  if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s\n' "$*" >&2; }
CMDS=()
record() { CMDS+=("$*"); }

# CPU time of a server in clock ticks: utime+stime+cutime+cstime summed over the process and its
# living descendants (a dead child's time is in its reaper's cutime once reaped).
cpu_ticks() {
  local p
  for p in "$1" $(descendants "$1"); do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
    awk '{ t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s", lo, hi }'; }
field() { sed -n "s/.*RESULT .*\b$2=\([^ ]*\).*/\1/p" "$1" | tail -1; }
free_port() {
  local p
  for p in $(shuf -i 20000-60999 -n 100); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}

log "== creating a ${SIZE_MIB} MiB file of random bytes in $TMP"
mkdir -p "$TMP/data"
head -c "$SIZE_BYTES" /dev/urandom >"$TMP/data/big.bin"
chmod 644 "$TMP/data/big.bin"

# ---------------------------------------------------------------------------------------------
# Measures one server. Arguments: name port pid user pass root (the directory its user sees)
# concurrency (connections ftp-load idle opens at once).
declare -A R
measure() {
  local name=$1 port=$2 pid=$3 user=$4 pass=$5 root=$6 concurrency=$7
  local url="ftp://$user:$pass@127.0.0.1:$port" out t0 t1 speeds="" cpu=0 i speed size
  local curl_to=(--max-time 300 --connect-timeout 10)

  # (a) RETR and STOR with curl, REPS times each; CPU of the server around each transfer.
  for i in $(seq "$REPS"); do
    t0=$(cpu_ticks "$pid")
    out=$(curl -s "${curl_to[@]}" -o /dev/null -w '%{speed_download} %{size_download}' "$url/big.bin" || echo "0 0")
    sleep 0.3
    t1=$(cpu_ticks "$pid")
    read -r speed size <<<"$out"
    [ "$size" = "$SIZE_BYTES" ] || log "warning: $name RETR $i got $size bytes of $SIZE_BYTES"
    speed=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1048576 }')
    log "$name RETR $i: $speed MiB/s, server CPU $(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN { print t / h }') s"
    speeds+="$speed"$'\n'; cpu=$((cpu + t1 - t0))
  done
  R[$name.retr]=$(printf '%s' "$speeds" | median); R[$name.retr_range]=$(printf '%s' "$speeds" | range)
  R[$name.retr_cpu]=$(awk -v t=$cpu -v h="$CLK_TCK" -v n="$REPS" -v g="$GIB" 'BEGIN { printf "%.2f", t / h / n / g }')
  record "curl -s -o /dev/null -w '%{speed_download}' $url/big.bin   # $name, ${REPS}x"

  speeds=""; cpu=0
  for i in $(seq "$REPS"); do
    rm -f "$root/upload.bin"
    t0=$(cpu_ticks "$pid")
    out=$(curl -s "${curl_to[@]}" -o /dev/null -T "$TMP/data/big.bin" -w '%{speed_upload} %{size_upload}' "$url/upload.bin" || echo "0 0")
    sleep 0.3
    t1=$(cpu_ticks "$pid")
    read -r speed size <<<"$out"
    [ "$size" = "$SIZE_BYTES" ] || log "warning: $name STOR $i sent $size bytes of $SIZE_BYTES"
    size=$(stat -c %s "$root/upload.bin" 2>/dev/null || echo 0)
    [ "$size" = "$SIZE_BYTES" ] || log "warning: $name STOR $i stored $size bytes of $SIZE_BYTES"
    speed=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1048576 }')
    log "$name STOR $i: $speed MiB/s, server CPU $(awk -v t=$((t1 - t0)) -v h="$CLK_TCK" 'BEGIN { print t / h }') s"
    speeds+="$speed"$'\n'; cpu=$((cpu + t1 - t0))
  done
  rm -f "$root/upload.bin"
  R[$name.stor]=$(printf '%s' "$speeds" | median); R[$name.stor_range]=$(printf '%s' "$speeds" | range)
  R[$name.stor_cpu]=$(awk -v t=$cpu -v h="$CLK_TCK" -v n="$REPS" -v g="$GIB" 'BEGIN { printf "%.2f", t / h / n / g }')
  record "curl -s -o /dev/null -T big.bin -w '%{speed_upload}' $url/upload.bin   # $name, ${REPS}x"

  # (b) idle logged-in sessions; coftp allows 50 per client address, so spread them over
  # 127.0.0.1..127.0.0.N, 40 each.
  local naddr=$(((SESSIONS + 39) / 40)) src
  src=$(seq -s, -f '127.0.0.%g' 1 "$naddr")
  local cmd=("$LOAD" idle --host 127.0.0.1 --port "$port" --user "$user" --pass "$pass" --sessions "$SESSIONS"
             --source-addresses "$src" --hold 2 --server-pid "$pid" --concurrency "$concurrency" --timeout 120 --op-timeout 30)
  record "${cmd[*]}"
  "${cmd[@]}" >"$TMP/$name.idle" 2>&1 || log "warning: ftp-load idle reported failures ($name)"
  sed 's/^/    /' "$TMP/$name.idle" >&2
  R[$name.idle_ok]=$(field "$TMP/$name.idle" ok); R[$name.idle_alive]=$(field "$TMP/$name.idle" alive_at_end)
  R[$name.idle_failed]=$(field "$TMP/$name.idle" failed); R[$name.login_s]=$(field "$TMP/$name.idle" login_s)
  R[$name.rss_before]=$(field "$TMP/$name.idle" rss_before_kib); R[$name.rss_after]=$(field "$TMP/$name.idle" rss_after_kib)
  R[$name.pss_before]=$(field "$TMP/$name.idle" pss_before_kib); R[$name.pss_after]=$(field "$TMP/$name.idle" pss_after_kib)
  R[$name.rss_per]=$(field "$TMP/$name.idle" rss_per_session_kib); R[$name.pss_per]=$(field "$TMP/$name.idle" pss_per_session_kib)
  R[$name.procs]=$(field "$TMP/$name.idle" processes)
  sleep 1  # let the server notice the closed sessions

  # (c) NOOP round trips alone, then while another session downloads the big file.
  cmd=("$LOAD" noop --host 127.0.0.1 --port "$port" --user "$user" --pass "$pass" --count "$NOOP_COUNT")
  record "${cmd[*]}"
  "${cmd[@]}" >"$TMP/$name.noop" 2>&1 || log "warning: ftp-load noop failed ($name)"
  sed 's/^/    /' "$TMP/$name.noop" >&2
  R[$name.noop_p50]=$(field "$TMP/$name.noop" p50_us); R[$name.noop_p99]=$(field "$TMP/$name.noop" p99_us)
  R[$name.noop_max]=$(field "$TMP/$name.noop" max_us); R[$name.noop_n]=$(field "$TMP/$name.noop" measured)

  cmd=("$LOAD" noop --host 127.0.0.1 --port "$port" --user "$user" --pass "$pass" --count 10000000
       --during-download big.bin)
  record "${cmd[*]}"
  "${cmd[@]}" >"$TMP/$name.noopdl" 2>&1 || log "warning: ftp-load noop --during-download failed ($name)"
  sed 's/^/    /' "$TMP/$name.noopdl" >&2
  R[$name.dl_p50]=$(field "$TMP/$name.noopdl" p50_us); R[$name.dl_p99]=$(field "$TMP/$name.noopdl" p99_us)
  R[$name.dl_max]=$(field "$TMP/$name.noopdl" max_us); R[$name.dl_n]=$(field "$TMP/$name.noopdl" measured)
  R[$name.dl_mibs]=$(field "$TMP/$name.noopdl" download_mibs)

  R[$name.hwm_end]=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
}

# ---------------------------------------------------------------------------------------------
# coftp
mkdir -p "$TMP/coftp-root"
ln "$TMP/data/big.bin" "$TMP/coftp-root/big.bin"
coftp_cmd=("$SERVER" --host 127.0.0.1 --port 0 --root "$TMP/coftp-root" --user bench:bench-pw --quiet
           --threads "$THREADS" --max-sessions $((SESSIONS + 100)))
record "${coftp_cmd[*]}"
"${coftp_cmd[@]}" >"$TMP/coftp.log" 2>&1 &
COFTP_PID=$!
PIDS+=("$COFTP_PID")
COFTP_PORT=""
for _ in $(seq 100); do
  COFTP_PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$TMP/coftp.log")
  [ -n "$COFTP_PORT" ] && break
  kill -0 "$COFTP_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$COFTP_PORT" ] || { log "coftp-server did not start:"; cat "$TMP/coftp.log" >&2; exit 1; }
log "== coftp-server pid $COFTP_PID on 127.0.0.1:$COFTP_PORT"
measure coftp "$COFTP_PORT" "$COFTP_PID" bench bench-pw "$TMP/coftp-root" 100
kill -0 "$COFTP_PID" 2>/dev/null || { log "coftp-server died:"; cat "$TMP/coftp.log" >&2; exit 1; }
stop_server "$COFTP_PID"
PIDS=()

# ---------------------------------------------------------------------------------------------
# vsftpd, for comparison: a throw-away local user, run in the foreground from a config file.
if [ "$PEER" = vsftpd ]; then
  [ "$(id -u)" = 0 ] || { log "--peer vsftpd needs root (it creates a local user)"; exit 1; }
  VSFTPD=$(command -v vsftpd || echo /usr/sbin/vsftpd)
  if [ ! -x "$VSFTPD" ]; then
    log "== installing vsftpd (its service is not started)"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && POLICY_CREATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y vsftpd >"$TMP/apt.log" 2>&1 ||
      { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y vsftpd >"$TMP/apt.log" 2>&1; } ||
      { cat "$TMP/apt.log" >&2; exit 1; }
    if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; POLICY_CREATED=0; fi
    VSFTPD=/usr/sbin/vsftpd
  fi
  VSFTPD_USER=ftpbench$$
  VHOME=$TMP/vsftpd-home
  useradd -M -d "$VHOME" -s /bin/bash "$VSFTPD_USER"
  # SHA-512 with the fewest rounds: 1,000 PAM logins should measure vsftpd, not the hash.
  echo "$VSFTPD_USER:bench-pw" | chpasswd -c SHA512 -s 1000
  mkdir -p "$VHOME"
  ln "$TMP/data/big.bin" "$VHOME/big.bin"
  chown "$VSFTPD_USER" "$VHOME"
  VPORT=$(free_port)
  mkdir -p /var/run/vsftpd/empty
  cat >"$TMP/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$VPORT
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
  record "$VSFTPD $TMP/vsftpd.conf   # $(grep -c . "$TMP/vsftpd.conf") settings: $(tr '\n' ' ' <"$TMP/vsftpd.conf")"
  # vsftpd's session processes do not all wait for their children: the orphans would take
  # their CPU time to init. A subreaper parent reaps them, keeping that time in the tree.
  command -v python3 >/dev/null || { log "--peer vsftpd needs python3 (for its subreaper)"; exit 1; }
  cat >"$TMP/subreaper.py" <<'EOF'
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
  record "python3 $TMP/subreaper.py $VSFTPD $TMP/vsftpd.conf   # a subreaper parent, see the script"
  python3 "$TMP/subreaper.py" "$VSFTPD" "$TMP/vsftpd.conf" >"$TMP/vsftpd.log" 2>&1 &
  VS_PID=$!
  PIDS+=("$VS_PID")
  up=0
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$VPORT") 2>/dev/null; then up=1; break; fi
    kill -0 "$VS_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ "$up" = 1 ] || { log "vsftpd did not start:"; cat "$TMP/vsftpd.log" >&2; exit 1; }
  log "== vsftpd $(dpkg-query -W -f '${Version}' vsftpd 2>/dev/null) under subreaper pid $VS_PID on 127.0.0.1:$VPORT"
  # vsftpd listens with a backlog of 32 and forks per connection before accepting the next:
  # 100 connects at once overflow its accept queue (greetings then take 30 s or more).
  measure vsftpd "$VPORT" "$VS_PID" "$VSFTPD_USER" bench-pw "$VHOME" 16
  stop_server "$VS_PID"
  PIDS=()
fi

# ---------------------------------------------------------------------------------------------
# Report
names=(coftp); [ "$PEER" = vsftpd ] && names+=(vsftpd)
row() {
  local label=$1 fmt=$2 n line
  line="| $label |"
  for n in "${names[@]}"; do line+=" $(eval "echo \"$fmt\"") |"; done; echo "$line"; }

echo
echo "## coftp foundation benchmarks"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'),"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); coftp $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?'),"
echo "coftp-server --threads $THREADS; file ${SIZE_MIB} MiB; ${REPS} repetitions; ${SESSIONS} idle sessions."
echo
hdr="| figure |"; sep="| --- |"; for n in "${names[@]}"; do hdr+=" $n |"; sep+=" ---: |"; done
echo "$hdr"; echo "$sep"
row "RETR ${GIB} GiB, curl, MiB/s: median (range)" '${R[$n.retr]} (${R[$n.retr_range]})'
row "STOR ${GIB} GiB, curl, MiB/s: median (range)" '${R[$n.stor]} (${R[$n.stor_range]})'
row "server CPU s per GiB, RETR" '${R[$n.retr_cpu]}'
row "server CPU s per GiB, STOR" '${R[$n.stor_cpu]}'
row "idle sessions logged in / alive after hold / failed" '${R[$n.idle_ok]} / ${R[$n.idle_alive]} / ${R[$n.idle_failed]}'
row "time to log them in, s" '${R[$n.login_s]}'
row "server RSS before → with sessions, KiB" '${R[$n.rss_before]} → ${R[$n.rss_after]}'
row "server PSS before → with sessions, KiB" '${R[$n.pss_before]} → ${R[$n.pss_after]}'
row "**RSS per idle session, KiB**" '**${R[$n.rss_per]}**'
row "**PSS per idle session, KiB**" '**${R[$n.pss_per]}**'
row "server processes with the sessions" '${R[$n.procs]}'
row "peak RSS (VmHWM) of the --server-pid process at the end, KiB" '${R[$n.hwm_end]}'
row "NOOP RTT alone, µs: p50 / p99 / max (n)" '${R[$n.noop_p50]} / ${R[$n.noop_p99]} / ${R[$n.noop_max]} (${R[$n.noop_n]})'
row "NOOP RTT during ${GIB} GiB RETR, µs: p50 / p99 / max (n)" '${R[$n.dl_p50]} / ${R[$n.dl_p99]} / ${R[$n.dl_max]} (${R[$n.dl_n]})'
row "that RETR (ftp-load), MiB/s" '${R[$n.dl_mibs]}'
echo
echo "Commands (ports and temp paths of this run):"
echo
echo '```'
for c in "${CMDS[@]}"; do echo "$c"; done
echo '```'
