#!/bin/sh
# tests/check_systemd_units.sh - systemd-analyze verify of coftp-server's unit files
# (examples/coftp-server/coftp-server.service and .socket), and of the implicit-FTPS socket
# unit that coftp-server.socket's comment describes.
#
# Usage: tests/check_systemd_units.sh COFTP_SERVER [SOURCE_ROOT]
#
# verify wants ExecStart='s binary to exist: the units are copied into a temporary
# directory with /usr/bin/coftp-server replaced by COFTP_SERVER (a built binary), and
# verified there. Prints "SKIP: ..." and exits 77 (meson's skip) without systemd-analyze.
set -eu

binary=${1:?usage: check_systemd_units.sh COFTP_SERVER [SOURCE_ROOT]}
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
units="$root/examples/coftp-server"

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze not found (apt-get install systemd): the unit files are not verified"
  exit 77
fi
test -x "$binary" || { echo "check_systemd_units: $binary is no executable" >&2; exit 2; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")

dir=$(mktemp -d "${TMPDIR:-/tmp}/coftp-units.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
sed "s|/usr/bin/coftp-server|$binary|g" "$units/coftp-server.service" >"$dir/coftp-server.service"
cp "$units/coftp-server.socket" "$dir/"
# The second socket unit, as the comment at the end of coftp-server.socket gives it.
sed -n 's/^#   \{0,1\}//p' "$units/coftp-server.socket" | sed -n '/^\[Unit\]/,$p' >"$dir/coftp-server-ftps.socket"
grep -q '^FileDescriptorName=ftps$' "$dir/coftp-server-ftps.socket" ||
  { echo "check_systemd_units: no ftps socket unit in the comment of coftp-server.socket" >&2; exit 1; }

# The daemon must know the flags ExecStart= gives it.
for flag in $(sed -n 's/^ExecStart=[^ ]* //p' "$dir/coftp-server.service" | tr ' ' '\n' | grep '^--'); do
  "$binary" --help 2>/dev/null | grep -q -- "$flag" ||
    { echo "check_systemd_units: ExecStart= passes $flag, which $binary --help does not list" >&2; exit 1; }
done

status=0
for unit in coftp-server.service coftp-server.socket coftp-server-ftps.socket; do
  # verify prints nothing for a good unit; anything it says is a finding.
  bad=0
  out=$(cd "$dir" && systemd-analyze verify "./$unit" 2>&1) || bad=1
  [ -n "$out" ] && bad=1
  if [ $bad -eq 0 ]; then
    echo "ok: $unit"
  else
    printf '%s\n' "${out:-verify failed}" | sed "s|^|$unit: |"
    status=1
  fi
done
[ $status -eq 0 ] && echo "systemd-analyze verify: 3 units ok ($(systemd-analyze --version | head -n 1))"
exit $status
