#!/usr/bin/env bash
# The systemd unit passes `systemd-analyze verify` and a security exposure threshold and says what
# the package needs (reload without procps, group, runtime dir kept, start timeout, restart
# limits), and the Debian package (cpack -G DEB) holds the binaries, the unit, the config as a
# conffile, the maintainer scripts (valid sh) and the docs with every link they make, with
# binaries that run. Usage: test_unit_and_package.sh SOURCE_DIR BUILD_DIR
# (deploy/systemd-check.sh installs the package under a real systemd.)
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d /tmp/portsyncd-pkg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# verify checks that every Exec*= command exists: point them at the built binaries.
sed -e "s|/usr/bin/portsyncd|$build/server/portsyncd|" -e "s|/usr/bin/portsyncctl|$build/client/portsyncctl|" \
  "$src/deploy/portsyncd.service" >"$tmp/portsyncd.service"
out=$(systemd-analyze verify "$tmp/portsyncd.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed: $out"
unit=$src/deploy/portsyncd.service
value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
seconds() { # systemd time span ("30", "30s", "2min") in seconds
  case $1 in
    *min) echo $((${1%min} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}
[ "$(value Type)" = notify ] || fail "not Type=notify"
# Kept across stop/start, so the restart marker survives (only a reboot empties /run).
[ "$(value RuntimeDirectoryPreserve)" = yes ] || fail "RuntimeDirectoryPreserve is not yes"
[ "$(value RuntimeDirectoryMode)" = 0750 ] || fail "RuntimeDirectoryMode is not 0750"
# API access is membership in the group the package creates.
[ "$(value Group)" = portsyncd ] || fail "Group is not portsyncd"
grep -q 'groupadd --system portsyncd' "$src/deploy/debian/postinst" || fail "postinst does not create the group"
# Reload works on a minimal system (no procps) and reports a refused config.
[ "$(value ExecReload)" = "/usr/bin/portsyncctl reload" ] || fail "ExecReload is $(value ExecReload)"
# READY=1 comes after at most 10 s of waiting for Redis or the database config.
start_timeout=$(seconds "$(value TimeoutStartSec)")
[ -n "$start_timeout" ] && [ "$start_timeout" -gt 10 ] || fail "TimeoutStartSec ($start_timeout) must exceed 10 s"
# A crash loop is retried for a while (not given up within 5 s as with RestartSec=1 and
# systemd's default 5 starts in 10 s) before the start limit stops it.
restart_sec=$(seconds "$(value RestartSec)")
burst=$(value StartLimitBurst)
interval=$(seconds "$(value StartLimitIntervalSec)")
[ -n "$restart_sec" ] && [ -n "$burst" ] && [ -n "$interval" ] || fail "RestartSec/StartLimit* not set"
[ $(((burst - 1) * restart_sec)) -ge 10 ] || fail "a crash loop gives up after $(((burst - 1) * restart_sec)) s"
[ $(((burst - 1) * restart_sec)) -lt "$interval" ] || fail "StartLimitBurst can never be reached within StartLimitIntervalSec"
exposure=$(systemd-analyze security --offline=yes "$tmp/portsyncd.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for portsyncd.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 3.0) }' || fail "exposure $exposure > 3.0"

(cd "$build" && cpack -G DEB -B "$tmp/cpack" >/dev/null) || fail "cpack"
deb=$(ls "$tmp"/cpack/portsyncd_*.deb)
dpkg-deb --info "$deb" conffiles | grep -qx /etc/sonic/portsyncd.conf || fail "conffile"
# Maintainer scripts: present, executable, valid sh, the ones from deploy/debian.
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm postrm; do
  [ -f "$tmp/control/$s" ] || fail "no $s in the package"
  [ "$(stat -c %a "$tmp/control/$s")" = 755 ] || fail "$s mode $(stat -c %a "$tmp/control/$s")"
  sh -n "$tmp/control/$s" || fail "$s: sh -n"
  cmp -s "$tmp/control/$s" "$src/deploy/debian/$s" || fail "$s differs from deploy/debian/$s"
done
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/bin/portsyncd ./usr/bin/portsyncctl ./usr/lib/systemd/system/portsyncd.service \
         ./etc/sonic/portsyncd.conf ./usr/share/doc/portsyncd/README.md \
         ./usr/share/doc/portsyncd/docs/OPERATIONS.md ./usr/share/doc/portsyncd/docs/API.md; do
  grep -qx "$f" <<<"$contents" || fail "$f missing from the package"
done
depends=$(dpkg-deb --field "$deb" Depends)
grep -q libgrpc++ <<<"$depends" || fail "shlibs dependencies missing"
grep -qE '(^|, )passwd($|,| )' <<<"$depends" || fail "no dependency on passwd (groupadd)"
dpkg-deb -x "$deb" "$tmp/root"
cmp -s "$tmp/root/usr/lib/systemd/system/portsyncd.service" "$unit" || fail "the packaged unit differs"
# Every relative link in a shipped doc leads to a shipped file.
docs=$tmp/root/usr/share/doc/portsyncd
while IFS= read -r md; do
  while IFS= read -r link; do
    target=${link%%#*}
    [ -n "$target" ] || continue
    [ -e "$(dirname "$md")/$target" ] || fail "${md#"$docs"/} links to $target, which the package does not ship"
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$md" | sed -e 's/^](//' -e 's/)$//' | grep -vE '^[a-z]+:' || true)
done < <(find "$docs" -name '*.md')
"$tmp/root/usr/bin/portsyncd" --help | grep -q "Usage: portsyncd" || fail "portsyncd --help"
"$tmp/root/usr/bin/portsyncctl" --help | grep -q "Usage: portsyncctl" || fail "portsyncctl --help"
# The shipped config is valid; the missing database config is what --check-config reports.
check=$("$tmp/root/usr/bin/portsyncd" --check-config --config "$tmp/root/etc/sonic/portsyncd.conf" \
  --db-config /nonexistent 2>&1) && fail "check-config accepted a missing database config"
grep -q "^portsyncd: /nonexistent: cannot read" <<<"$check" || fail "check-config: $check"
echo "OK: unit verified, package $(basename "$deb") ($(stat -c %s "$deb") bytes) complete," \
  "$(find "$docs" -name '*.md' | wc -l) docs with their links"
