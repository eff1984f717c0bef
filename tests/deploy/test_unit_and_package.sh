#!/usr/bin/env bash
# The systemd unit passes `systemd-analyze verify` and a security exposure threshold, and the
# Debian package (cpack -G DEB) holds the binaries, the unit, the config as a conffile and the
# docs, with binaries that run. Usage: test_unit_and_package.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d /tmp/portsyncd-pkg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# verify checks that ExecStart exists: point it at the built binary.
sed "s|/usr/bin/portsyncd|$build/server/portsyncd|" "$src/deploy/portsyncd.service" \
  >"$tmp/portsyncd.service"
out=$(systemd-analyze verify "$tmp/portsyncd.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
grep -q '^Type=notify$' "$tmp/portsyncd.service" || fail "not Type=notify"
grep -q '^RuntimeDirectoryPreserve=restart$' "$tmp/portsyncd.service" || fail "runtime dir"
exposure=$(systemd-analyze security --offline=yes "$tmp/portsyncd.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for portsyncd.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 3.0) }' || fail "exposure $exposure > 3.0"

(cd "$build" && cpack -G DEB -B "$tmp/cpack" >/dev/null) || fail "cpack"
deb=$(ls "$tmp"/cpack/portsyncd_*.deb)
dpkg-deb --info "$deb" conffiles | grep -qx /etc/sonic/portsyncd.conf || fail "conffile"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/bin/portsyncd ./usr/bin/portsyncctl ./usr/lib/systemd/system/portsyncd.service \
         ./etc/sonic/portsyncd.conf ./usr/share/doc/portsyncd/OPERATIONS.md \
         ./usr/share/doc/portsyncd/API.md; do
  grep -qx "$f" <<<"$contents" || fail "$f missing from the package"
done
dpkg-deb --field "$deb" Depends | grep -q libgrpc++ || fail "shlibs dependencies missing"
dpkg-deb -x "$deb" "$tmp/root"
"$tmp/root/usr/bin/portsyncd" --help | grep -q "Usage: portsyncd" || fail "portsyncd --help"
"$tmp/root/usr/bin/portsyncctl" --help | grep -q "Usage: portsyncctl" || fail "portsyncctl --help"
# The shipped config is valid; the missing database config is what --check-config reports.
check=$("$tmp/root/usr/bin/portsyncd" --check-config --config "$tmp/root/etc/sonic/portsyncd.conf" \
  --db-config /nonexistent 2>&1) && fail "check-config accepted a missing database config"
grep -q "^portsyncd: /nonexistent: cannot read" <<<"$check" || fail "check-config: $check"
echo "OK: unit verified, package $(basename "$deb") ($(stat -c %s "$deb") bytes) complete"
