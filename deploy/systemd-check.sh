#!/usr/bin/env bash
# Installs the Debian package on a clean Debian 12 and runs it under a real systemd, in a
# container, the way it is used: install, READY, reload, watchdog, restart and stop/start without
# ports going down, Redis down at start, API group access, host mode without Redis, upgrade,
# remove, purge. Prints one
# PASS/FAIL line per check and a summary; exits 1 on any FAIL.
#
# Usage (root): deploy/systemd-check.sh [BUILD_DIR]     (default: the source tree's build/)
#
# Needs debootstrap, systemd-container (systemd-nspawn), util-linux (nsenter), dpkg-dev, cmake
# (cpack) and the Debian mirror this machine's apt uses. The package is built from BUILD_DIR with
# `cpack -G DEB` (under flock /tmp/portsyncd-build.lock, so never during a build): build first.
#
# What it makes and removes: a pristine Debian 12 root, made once by debootstrap (minbase, plus
# systemd, systemd-sysv, dbus, iproute2) and cached with the apt downloads under
# $PORTSYNCD_CHECK_CACHE (/var/cache/portsyncd-systemd-check); per run, a copy of it under
# /var/tmp, booted with systemd-nspawn on a private network (its veth ports live there: the
# host's interfaces are never touched). The container is stopped (by PID) and the copy deleted
# on exit; PORTSYNCD_CHECK_KEEP=1 keeps the copy for a look.
#
# Measured on 2 cores: debootstrap about 90 s (once), then about 70 s per run.
set -uo pipefail

case "${1:-}" in
  -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build}" 2>/dev/null && pwd) || { echo "no build directory ${1:-$src/build}" >&2; exit 2; }
cache=${PORTSYNCD_CHECK_CACHE:-/var/cache/portsyncd-systemd-check}
pristine=$cache/bookworm-minbase
lock=/tmp/portsyncd-build.lock
redis_sock=/run/redis/redis-server.sock
db_config=/var/run/redis/sonic-db/database_config.json
stall_file=/run/portsyncd-stall
watchdog_sec=4

started=$(date +%s.%N)
die() { echo "systemd-check: $*" >&2; exit 2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { echo "--- $* ($(since "$started") s)"; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, systemd-nspawn, nsenter)"
for c in debootstrap systemd-nspawn nsenter dpkg-deb cpack flock; do
  command -v "$c" >/dev/null || die "$c is missing (apt-get install debootstrap systemd-container util-linux dpkg-dev cmake)"
done
[ -f "$build/CPackConfig.cmake" ] || die "$build has no CPackConfig.cmake: configure and build first"

# The Debian mirror (and security archive) this machine's apt uses.
apt_uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' | tr ' ' '\n')
mirror=${PORTSYNCD_CHECK_MIRROR:-$(grep -m1 -E '/debian/?$' <<<"$apt_uris")}
security=$(grep -m1 -E '/debian-security/?$' <<<"$apt_uris")
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list*: set PORTSYNCD_CHECK_MIRROR"

work=
nspawn_pid=
leader=
cleanup() {
  local rc=$?
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # SIGTERM: nspawn asks the container's systemd to power off; SIGKILL if it takes too long.
    kill -TERM "$nspawn_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ "${PORTSYNCD_CHECK_KEEP:-0}" = 1 ]; then
      echo "kept $work"
    elif grep -q " $work/" /proc/self/mountinfo; then
      echo "systemd-check: something is still mounted under $work; not deleting it" >&2
    else
      rm -rf "$work"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the package ---------------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/portsyncd-systemd-check.XXXXXX)
log "building the package from $build"
t=$(now)
(cd "$build" && flock "$lock" cpack -G DEB -B "$work/cpack" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; die "cpack failed"; }
deb=$(ls "$work"/cpack/portsyncd_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "cpack made no portsyncd_*.deb"
version=$(dpkg-deb --field "$deb" Version)
echo "package $(basename "$deb") in $(since "$t") s"
# The upgrade: the same package with a higher version.
new_version="$version+check1"
dpkg-deb -R "$deb" "$work/repack"
sed -i "s/^Version: .*/Version: $new_version/" "$work/repack/DEBIAN/control"
deb2="$work/portsyncd_${new_version}_amd64.deb"
dpkg-deb --root-owner-group -b "$work/repack" "$deb2" >/dev/null || die "cannot repack $deb"

# --- the pristine root ---------------------------------------------------------------------------
mkdir -p "$cache/apt-archives/partial" "$cache/apt-lists/partial"
if [ ! -e "$pristine/.complete" ]; then
  log "debootstrap bookworm from $mirror into $pristine (once)"
  t=$(now)
  rm -rf "$pristine.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2 bookworm \
    "$pristine.tmp" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$pristine.tmp"/var/cache/apt/archives/*.deb
  rm -rf "$pristine"
  mv "$pristine.tmp" "$pristine"
  touch "$pristine/.complete"
  echo "debootstrap took $(since "$t") s"
fi
log "copying the pristine root"
t=$(now)
root=$work/root
cp -a --reflink=auto "$pristine" "$root" || die "cannot copy $pristine"
rm -f "$root/.complete"
{
  echo "deb $mirror bookworm main"
  echo "deb $mirror bookworm-updates main"
  [ -z "$security" ] || echo "deb $security bookworm-security main"
} >"$root/etc/apt/sources.list"
mkdir -p "$root/var/tmp/psc"
cp "$deb" "$deb2" "$root/var/tmp/psc/"
chmod 644 "$root"/var/tmp/psc/*.deb
pkg=/var/tmp/psc/$(basename "$deb")
pkg2=/var/tmp/psc/$(basename "$deb2")
echo "copied in $(since "$t") s"

# The apt downloads and lists persist in the cache across runs.
nspawn_common=(--register=no --keep-unit -q -D "$root"
  "--bind=$cache/apt-archives:/var/cache/apt/archives" "--bind=$cache/apt-lists:/var/lib/apt/lists")

# --- checks --------------------------------------------------------------------------------------
npass=0
nfail=0
failed=()
# check NAME FUNCTION: runs FUNCTION (its output goes to the log); PASS/FAIL with its last line.
check() {
  local name=$1 t out rc
  shift
  t=$(now)
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" >>"$work/checks.log"
  out=$(printf '%s\n' "$out" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "PASS: $name: $out ($(since "$t") s)"
    npass=$((npass + 1))
  else
    echo "FAIL: $name: $out ($(since "$t") s)"
    nfail=$((nfail + 1))
    failed+=("$name")
  fi
}
# wait_until SECONDS COMMAND...: polls every 0.2 s.
wait_until() {
  local deadline
  deadline=$(awk -v n="$(now)" -v s="$1" 'BEGIN { printf "%d", n + s }')
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# A command in the container (without systemd as PID 1), with the host's network, for apt.
chroot_run() {
  systemd-nspawn "${nspawn_common[@]}" --setenv=DEBIAN_FRONTEND=noninteractive -- /bin/sh -c "$1"
}
# A command in the booted container, through nsenter into its PID 1's namespaces.
ct() {
  nsenter -t "$leader" -m -u -i -n -p -C -- /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}
ctsh() { ct /bin/sh -c "$1"; }
prop() { ct systemctl show -p "$1" --value portsyncd.service; }
rcli() { local db=$1; shift; ct redis-cli -s "$redis_sock" -n "$db" "$@"; }
state_field() { rcli 6 HGET "PORT_TABLE|Ethernet0" "$1"; }
running() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }
oper_is() { [ "$(state_field netdev_oper_status)" = "$1" ]; }
restarts_not() { [ "$(prop NRestarts)" != "$1" ]; }
admin_up() { ctsh "ip -o link show dev Ethernet0" | grep -qE '[<,]UP[,>]'; }
# The daemon's log of its current run (one invocation of the unit).
daemon_log() {
  local id
  id=$(prop InvocationID)
  ct journalctl -q --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$id"
}
# The start rule the current run took: its "start rule:" line (the evidence) if any, else its
# "startup: <mode> start" line.
start_rule() {
  local l
  l=$(daemon_log)
  grep -m1 -E '^start rule: ' <<<"$l" || grep -m1 -E 'startup: (cold|warm|restart)' <<<"$l"
}
# Kernel link events for Ethernet0 while something happens: none may lack IFF_UP.
monitor_start() {
  ctsh 'rm -f /run/psc-monitor.out; ip -o monitor link >/run/psc-monitor.out 2>&1 & echo $! >/run/psc-monitor.pid'
}
monitor_stop_check() {
  ctsh 'kill $(cat /run/psc-monitor.pid) 2>/dev/null; rm -f /run/psc-monitor.pid'
  local down
  down=$(ctsh 'cat /run/psc-monitor.out' | grep -E ': Ethernet0[@:]' | grep -vE '[<,]UP[,>]')
  if [ -n "$down" ]; then
    echo "Ethernet0 went admin down: $down"
    return 1
  fi
}

# --- 1. install and purge without systemd as PID 1 (a chroot, an image build) ---------------------
log "apt in the container without systemd running (downloads cached in $cache)"
t=$(now)
if ! chroot_run "apt-get -q update && apt-get -q -y install --no-install-recommends redis-server" \
  >"$work/apt-redis.log" 2>&1; then
  tail -20 "$work/apt-redis.log" >&2
  die "apt-get install redis-server failed (mirror $mirror)"
fi
echo "redis-server installed in $(since "$t") s"

chroot_install() {
  chroot_run "apt-get -q -y install --no-install-recommends $pkg" || { echo "apt-get install failed"; return 1; }
  chroot_run "getent group portsyncd" || { echo "no group portsyncd"; return 1; }
  [ -L "$root/etc/systemd/system/multi-user.target.wants/portsyncd.service" ] ||
    { echo "not enabled (no multi-user.target.wants link)"; return 1; }
  echo "installed without systemd: group created, unit enabled, nothing started"
}
chroot_purge() {
  chroot_run "apt-get -q -y purge portsyncd" || { echo "apt-get purge failed"; return 1; }
  ! chroot_run "getent group portsyncd" || { echo "group portsyncd still there"; return 1; }
  [ ! -e "$root/etc/sonic/portsyncd.conf" ] || { echo "conffile still there"; return 1; }
  [ ! -L "$root/etc/systemd/system/multi-user.target.wants/portsyncd.service" ] ||
    { echo "enablement link still there"; return 1; }
  echo "purged without systemd: conffile, group and enablement gone"
}
sonic_host_install() {
  # A SONiC switch (its host, or its swss container): the unit must stay disabled.
  mkdir -p "$root/etc/sonic" && echo "build_version: 'check'" >"$root/etc/sonic/sonic_version.yml"
  local out rc=0
  out=$(chroot_run "apt-get -q -y install --no-install-recommends $pkg" 2>&1) || rc=1
  rm -f "$root/etc/sonic/sonic_version.yml"
  [ "$rc" -eq 0 ] || { echo "apt-get install failed"; return 1; }
  grep -q "the systemd unit is left disabled" <<<"$out" || { echo "no notice from postinst"; return 1; }
  [ ! -L "$root/etc/systemd/system/multi-user.target.wants/portsyncd.service" ] ||
    { echo "enabled on a SONiC switch"; return 1; }
  chroot_run "apt-get -q -y purge portsyncd" >/dev/null || { echo "apt-get purge failed"; return 1; }
  echo "on a SONiC switch (sonic_version.yml): installed, unit left disabled, postinst says why"
}
check "install without systemd running (chroot)" chroot_install
check "purge without systemd running (chroot)" chroot_purge
check "install on a SONiC switch leaves the unit disabled" sonic_host_install

# --- 2. boot ---------------------------------------------------------------------------------------
# Redis as SONiC's database would have it, on Debian's redis-server: a unix socket (off by
# default) in group redis with 770 (Debian's default is 700; docs/OPERATIONS.md), and keyspace
# notifications as SONiC's. /run/redis is kept when redis-server stops, so the database config
# written there survives the "Redis down" check.
cat >>"$root/etc/redis/redis.conf" <<EOF

# portsyncd systemd-check
unixsocket $redis_sock
unixsocketperm 770
notify-keyspace-events AKE
EOF
mkdir -p "$root/etc/systemd/system/redis-server.service.d" "$root/etc/systemd/system/portsyncd.service.d"
printf '[Service]\nRuntimeDirectoryPreserve=yes\n' >"$root/etc/systemd/system/redis-server.service.d/psc.conf"
# The documented drop-in for Redis's socket group, and the test hook for the watchdog check.
printf '[Service]\nSupplementaryGroups=redis\n' >"$root/etc/systemd/system/portsyncd.service.d/redis.conf"
printf '[Service]\nEnvironment=PORTSYNCD_TEST_STALL_FILE=%s\nWatchdogSec=%s\n' "$stall_file" "$watchdog_sec" \
  >"$root/etc/systemd/system/portsyncd.service.d/test.conf"

log "booting the container"
t=$(now)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -b --private-network "${nspawn_common[@]}" \
  </dev/null >"$work/console.log" 2>&1 &
nspawn_pid=$!
find_leader() {
  local queue=("$nspawn_pid") p kids
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    if [ "$p" != "$nspawn_pid" ] &&
      awk '/^NSpid:/ { exit !(NF > 2 && $NF == 1) }' "/proc/$p/status" 2>/dev/null; then
      echo "$p"
      return 0
    fi
    kids=$(cat /proc/"$p"/task/*/children 2>/dev/null)
    for k in $kids; do queue+=("$k"); done
  done
  return 1
}
booted() {
  leader=$(find_leader) || return 1
  local s
  s=$(ct systemctl is-system-running 2>/dev/null)
  [ "$s" = running ] || [ "$s" = degraded ]
}
if ! wait_until 90 booted; then
  tail -30 "$work/console.log" >&2
  die "the container did not boot"
fi
echo "booted in $(since "$t") s ($(ct systemctl is-system-running))"
if [ "$(ct systemctl is-system-running)" = degraded ]; then
  ct systemctl --failed --no-legend >&2
fi

# The switch: Redis, SONiC's database config, CONFIG_DB PORT|Ethernet0 and APPL_DB
# PORT_TABLE:Ethernet0 (as orchagent leaves it after consuming portsyncd's publication).
setup_switch() {
  wait_until 30 ct test -S "$redis_sock" || { echo "no redis socket $redis_sock"; return 1; }
  ctsh "mkdir -p ${db_config%/*} && cat >$db_config" <<EOF
{
  "INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379, "unix_socket_path": "$redis_sock"}},
  "DATABASES": {
    "APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
    "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
    "STATE_DB": {"id": 6, "separator": "|", "instance": "redis"}
  },
  "VERSION": "1.0"
}
EOF
  rcli 4 HSET "PORT|Ethernet0" admin_status up mtu 9100 lanes 0 alias etp1 speed 100000 >/dev/null &&
    rcli 0 HSET "PORT_TABLE:Ethernet0" admin_status up mtu 9100 lanes 0 alias etp1 speed 100000 >/dev/null ||
    { echo "redis-cli failed"; return 1; }
  echo "redis on $redis_sock, $db_config, CONFIG_DB PORT|Ethernet0"
}
check "switch setup (redis, database_config.json)" setup_switch

# --- 3. install under systemd ------------------------------------------------------------------------
install_started() {
  ct apt-get -q -y install --no-install-recommends "$pkg" || { echo "apt-get install failed"; return 1; }
  [ "$(ct systemctl is-enabled portsyncd)" = enabled ] || { echo "not enabled"; return 1; }
  running || { echo "not running after install: $(prop ActiveState)/$(prop SubState)"; return 1; }
  start_rule
  echo "postinst started it: $(prop ActiveState)/$(prop SubState), MainPID $(prop MainPID)"
}
check "install starts it (READY, active/running)" install_started

status_text() {
  local s
  s=$(prop StatusText)
  [ -n "$s" ] || { echo "no StatusText"; return 1; }
  echo "StatusText=$s"
  grep -q "ports tracked" <<<"$s"
}
check "status text" status_text

ports_synced() {
  ctsh 'ip link add Ethernet0 type veth peer name w0 && ip link set w0 up && ip link set Ethernet0 up' ||
    { echo "cannot create Ethernet0"; return 1; }
  wait_until 10 oper_is up ||
    { echo "STATE_DB PORT_TABLE|Ethernet0: $(rcli 6 HGETALL 'PORT_TABLE|Ethernet0' | tr '\n' ' ')"; return 1; }
  echo "STATE_DB PORT_TABLE|Ethernet0: $(rcli 6 HGETALL 'PORT_TABLE|Ethernet0' | tr '\n' ' ')"
}
check "Ethernet0 synced to STATE_DB" ports_synced

permissions() {
  local dir sock token
  dir=$(ct stat -c '%U:%G %a' /run/portsyncd)
  sock=$(ct stat -c '%U:%G %a' /run/portsyncd/portsyncd.sock)
  token=$(ct stat -c '%U:%G %a' /run/portsyncd/reload.token)
  echo "/run/portsyncd $dir, portsyncd.sock $sock, reload.token $token"
  [ "$dir" = "root:portsyncd 750" ] && [ "$sock" = "root:portsyncd 660" ] &&
    [ "${token#* }" = 600 ] && [ "${token%%:*}" = root ]
}
check "runtime dir, socket and token permissions" permissions

# --- 4. reload ---------------------------------------------------------------------------------------
reload_ok() {
  local pid
  pid=$(prop MainPID)
  ct systemctl reload portsyncd || { echo "systemctl reload failed"; return 1; }
  [ "$(prop MainPID)" = "$pid" ] && running || { echo "not running with the same PID"; return 1; }
  daemon_log | grep -m1 'reload: config' || { echo "no 'reload: config' in the log"; return 1; }
}
check "systemctl reload" reload_ok

reload_refused() {
  local pid rc
  pid=$(prop MainPID)
  ctsh 'cp -p /etc/sonic/portsyncd.conf /run/psc-conf.bak && printf "\n[netlink]\nbogus = 1\n" >>/etc/sonic/portsyncd.conf'
  ct systemctl reload portsyncd
  rc=$?
  ctsh 'cp -p /run/psc-conf.bak /etc/sonic/portsyncd.conf'
  [ "$rc" -ne 0 ] || { echo "systemctl reload of a bad config file exited 0"; return 1; }
  [ "$(prop MainPID)" = "$pid" ] && running || { echo "the daemon did not keep running"; return 1; }
  ct systemctl reload portsyncd || { echo "reload of the restored file failed"; return 1; }
  echo "bad file: systemctl reload exited $rc, daemon kept running; restored file reloads"
}
check "systemctl reload of a bad config fails" reload_refused

# --- 5. API access by group ----------------------------------------------------------------------------
group_access() {
  ctsh 'id psmember >/dev/null 2>&1 || useradd -M -G portsyncd psmember; id psother >/dev/null 2>&1 || useradd -M psother'
  local out
  out=$(ct setpriv --reuid psmember --regid psmember --init-groups portsyncctl ports 2>&1) ||
    { echo "member: $out"; return 1; }
  grep -q Ethernet0 <<<"$out" || { echo "member: no Ethernet0 in: $out"; return 1; }
  out=$(ct setpriv --reuid psother --regid psother --init-groups portsyncctl ports 2>&1) &&
    { echo "non-member was let in: $out"; return 1; }
  echo "non-member: $out"
  grep -qi "permission denied" <<<"$out" || return 1
  out=$(ct setpriv --reuid psmember --regid psmember --init-groups portsyncctl reload 2>&1) &&
    { echo "member could reload: $out"; return 1; }
  echo "member: ports OK, reload refused ($out); non-member refused: $(ct setpriv --reuid psother --regid psother --init-groups portsyncctl ports 2>&1)"
}
check "group portsyncd: members read the API" group_access

# --- 6. restarts without ports going down --------------------------------------------------------------
# restarted_alone HOW OLD_PID: the new run took the restart rule, Ethernet0 never went down,
# STATE_DB still right.
restarted_alone() {
  local how=$1 old=$2 new
  new=$(prop MainPID)
  running || { echo "$how: not running: $(prop ActiveState)/$(prop SubState) $(prop Result)"; return 1; }
  [ "$new" != "$old" ] && [ "$new" != 0 ] || { echo "$how: MainPID unchanged ($old)"; return 1; }
  monitor_stop_check || return 1
  admin_up || { echo "$how: Ethernet0 is admin down"; return 1; }
  [ "$(state_field admin_status)" = up ] || { echo "$how: STATE_DB admin_status $(state_field admin_status)"; return 1; }
  local rule
  rule=$(start_rule)
  grep -qE 'startup: restart|restart of portsyncd alone' <<<"$rule" ||
    { echo "$how: the log says: ${rule:-no startup line}"; return 1; }
  echo "$how: MainPID $old -> $new, Ethernet0 stayed up; log: $rule"
}

restart_check() {
  local old
  old=$(prop MainPID)
  monitor_start
  ct systemctl restart portsyncd || { monitor_stop_check; echo "systemctl restart failed"; return 1; }
  restarted_alone "systemctl restart" "$old"
}
check "systemctl restart keeps ports up" restart_check

stop_start_check() {
  local old
  old=$(prop MainPID)
  monitor_start
  ct systemctl stop portsyncd || { monitor_stop_check; echo "systemctl stop failed"; return 1; }
  ct test -e /run/portsyncd/portsyncd.started || { monitor_stop_check; echo "the restart marker is gone after stop"; return 1; }
  ct systemctl start portsyncd || { monitor_stop_check; echo "systemctl start failed"; return 1; }
  restarted_alone "stop; start" "$old"
}
check "systemctl stop; start keeps ports up" stop_start_check

watchdog_check() {
  local old restarts
  old=$(prop MainPID)
  restarts=$(prop NRestarts)
  [ "$(prop WatchdogUSec)" = "${watchdog_sec}s" ] || { echo "WatchdogUSec=$(prop WatchdogUSec)"; return 1; }
  monitor_start
  ct touch "$stall_file"
  # Remove the stall file as soon as systemd acted, so the next run does not stall too.
  if ! wait_until $((watchdog_sec * 3)) restarts_not "$restarts"; then
    ct rm -f "$stall_file"
    monitor_stop_check
    echo "no restart within $((watchdog_sec * 3)) s of the stall: $(prop ActiveState)/$(prop SubState)"
    return 1
  fi
  ct rm -f "$stall_file"
  ct journalctl -q --no-pager -o cat -u portsyncd | grep -m1 -i 'watchdog timeout' ||
    { monitor_stop_check; echo "no 'Watchdog timeout' from systemd"; return 1; }
  wait_until 30 running
  restarted_alone "watchdog (WatchdogSec=$watchdog_sec)" "$old"
}
check "watchdog restarts a stalled engine, ports stay up" watchdog_check

# --- 7. Redis down at start ------------------------------------------------------------------------------
redis_down_start() {
  local t0 took old restarts
  ct systemctl stop portsyncd
  ct systemctl stop redis-server
  ct test -e "$db_config" || { echo "$db_config vanished with redis"; return 1; }
  monitor_start
  t0=$(now)
  ct systemctl start portsyncd || { monitor_stop_check; echo "systemctl start failed after $(since "$t0") s: $(prop Result)"; return 1; }
  took=$(since "$t0")
  old=$(prop MainPID)
  restarts=$(prop NRestarts)
  running || { monitor_stop_check; echo "not running: $(prop ActiveState)/$(prop SubState)"; return 1; }
  echo "Redis down: active after $took s; StatusText=$(prop StatusText)"
  # A cable pull while Redis is away, then 5 s more: neither killed nor restarted.
  ct ip link set w0 down
  sleep 5
  [ "$(prop MainPID)" = "$old" ] && [ "$(prop NRestarts)" = "$restarts" ] && running ||
    { monitor_stop_check; echo "killed or restarted while Redis was down"; return 1; }
  ct systemctl start redis-server
  wait_until 20 oper_is down ||
    { monitor_stop_check; echo "STATE_DB did not follow after Redis came back: $(rcli 6 HGETALL 'PORT_TABLE|Ethernet0' | tr '\n' ' ')"; return 1; }
  ct ip link set w0 up
  wait_until 10 oper_is up ||
    { monitor_stop_check; echo "STATE_DB did not follow the cable back"; return 1; }
  [ "$(prop MainPID)" = "$old" ] || { monitor_stop_check; echo "restarted"; return 1; }
  monitor_stop_check || return 1
  echo "active after $took s with Redis down (TimeoutStartSec=$(prop TimeoutStartUSec)), not restarted; synced when Redis came back; log: $(start_rule)"
}
check "Redis down at start: READY, waits, syncs" redis_down_start

# Redis's socket (redis:redis 770 here) needs the documented drop-in: without it the sandboxed
# daemon (no CAP_DAC_OVERRIDE) is refused, and says so.
redis_socket_group() {
  local dropin=/etc/systemd/system/portsyncd.service.d/redis.conf st
  monitor_start
  ct mv "$dropin" "$dropin.off" && ct systemctl daemon-reload
  ct systemctl restart portsyncd
  st=$(prop StatusText)
  ct mv "$dropin.off" "$dropin" && ct systemctl daemon-reload
  ct systemctl restart portsyncd || { monitor_stop_check; echo "restart with the drop-in failed"; return 1; }
  echo "without SupplementaryGroups=redis: StatusText=$st"
  grep -qi "permission denied" <<<"$st" || { monitor_stop_check; echo "no 'Permission denied' in: $st"; return 1; }
  ct ip link set w0 down && wait_until 10 oper_is down && ct ip link set w0 up && wait_until 10 oper_is up ||
    { monitor_stop_check; echo "not syncing with the drop-in back"; return 1; }
  monitor_stop_check || return 1
  echo "without SupplementaryGroups=redis: refused (StatusText=$st); with it: syncing"
}
check "Redis socket needs the group drop-in" redis_socket_group

# --- 7b. host mode: no Redis, the packaged unit with a config change only ---------------------------
# A Linux host without SONiC's database: redis-server stopped, no database_config.json, and the
# shipped config file's one line changed (redis.enabled = false). Then the SONiC setup is put back.
api_oper_down_ethernet0() { ct portsyncctl ports Ethernet0 | grep -q '^Ethernet0 *up *down '; }
host_mode() {
  local st out rc=0
  ct systemctl stop portsyncd redis-server
  ct mv "$db_config" "$db_config.away"
  ctsh 'cp -p /etc/sonic/portsyncd.conf /run/psc-conf.sonic && sed -i "s/^enabled = true$/enabled = false/" /etc/sonic/portsyncd.conf'
  if ! ct grep -q '^enabled = false$' /etc/sonic/portsyncd.conf; then
    echo "the shipped config has no 'enabled = true' line to change"; rc=1
  elif ! ct systemctl start portsyncd; then
    echo "systemctl start failed: $(prop Result) $(prop StatusText)"; rc=1
  else
    st=$(prop StatusText)
    grep -q "^host mode (no SONiC database): following" <<<"$st" || { echo "StatusText=$st"; rc=1; }
    # Every interface but lo: Ethernet0 and its peer w0 (not a SONiC name) both.
    out=$(ct portsyncctl ports 2>&1)
    { grep -q '^Ethernet0 ' <<<"$out" && grep -q '^w0 ' <<<"$out"; } || { echo "ports: $out"; rc=1; }
    ct ip link set w0 down
    wait_until 10 api_oper_down_ethernet0 ||
      { echo "Ethernet0 not seen down: $(ct portsyncctl ports Ethernet0)"; rc=1; }
    ct ip link set w0 up
    [ "$rc" -eq 0 ] && echo "no Redis, no database_config.json: READY, StatusText=$st; portsyncctl ports lists Ethernet0 and w0 and followed a cable pull"
  fi
  # The SONiC switch again.
  ct systemctl stop portsyncd
  ctsh 'cp -p /run/psc-conf.sonic /etc/sonic/portsyncd.conf'
  ct mv "$db_config.away" "$db_config"
  ct systemctl start redis-server
  wait_until 30 ct test -S "$redis_sock"
  ct systemctl start portsyncd || { echo "SONiC mode did not start again"; return 1; }
  wait_until 10 oper_is up || { echo "STATE_DB not synced after the switch back"; return 1; }
  return "$rc"
}
check "host mode: no Redis, the packaged unit with enabled = false" host_mode

# --- 8. upgrade, remove, purge -----------------------------------------------------------------------
upgrade_check() {
  local old
  old=$(prop MainPID)
  ctsh 'echo "# edited by the operator" >>/etc/sonic/portsyncd.conf'
  monitor_start
  ct apt-get -q -y install --no-install-recommends "$pkg2" || { monitor_stop_check; echo "apt-get install of $new_version failed"; return 1; }
  [ "$(ct dpkg-query -W -f '${Version}' portsyncd)" = "$new_version" ] || { monitor_stop_check; echo "version not $new_version"; return 1; }
  ct grep -q "edited by the operator" /etc/sonic/portsyncd.conf || { monitor_stop_check; echo "the conffile edit was lost"; return 1; }
  restarted_alone "upgrade $version -> $new_version" "$old"
}
check "upgrade restarts the daemon, keeps the conffile and the ports" upgrade_check

remove_check() {
  ct apt-get -q -y remove portsyncd || { echo "apt-get remove failed"; return 1; }
  local state procs
  state=$(prop ActiveState)
  procs=$(ctsh 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = portsyncd ] && echo ${p#/proc/}; done')
  [ -z "$procs" ] || { echo "still running: processes $procs, ActiveState=$state"; return 1; }
  [ "$state" = inactive ] || { echo "ActiveState=$state (Result=$(prop Result))"; return 1; }
  ct test -e /etc/sonic/portsyncd.conf || { echo "remove deleted the conffile"; return 1; }
  echo "stopped: ActiveState=$state, LoadState=$(prop LoadState), conffile kept"
}
check "remove stops the daemon" remove_check

purge_check() {
  ct apt-get -q -y purge portsyncd || { echo "apt-get purge failed"; return 1; }
  local left=()
  ct test -e /etc/sonic/portsyncd.conf && left+=(/etc/sonic/portsyncd.conf)
  ct test -e /run/portsyncd && left+=(/run/portsyncd)
  ct getent group portsyncd >/dev/null && left+=("group portsyncd")
  ct test -e /var/lib/systemd/deb-systemd-helper-enabled/portsyncd.service.dsh-also && left+=(deb-systemd-helper state)
  ct test -L /etc/systemd/system/portsyncd.service && left+=("mask /etc/systemd/system/portsyncd.service")
  ct test -L /etc/systemd/system/multi-user.target.wants/portsyncd.service && left+=(enablement link)
  ct dpkg-query -W -f '${Status}' portsyncd 2>/dev/null | grep -q 'config-files\|installed' && left+=("dpkg status $(ct dpkg-query -W -f '${Status}' portsyncd)")
  [ ${#left[@]} -eq 0 ] || { echo "left behind: ${left[*]}"; return 1; }
  echo "conffile, /run/portsyncd, group, deb-systemd-helper state gone; LoadState=$(prop LoadState)"
}
check "purge leaves nothing" purge_check

# --- summary --------------------------------------------------------------------------------------------
summary="SUMMARY: $npass passed, $nfail failed in $(since "$started") s"
[ "$nfail" -eq 0 ] || summary+=" (failed: ${failed[*]})"
echo "$summary"
if [ "$nfail" -ne 0 ]; then
  echo "--- portsyncd journal (last 60 lines)"
  ct journalctl -q --no-pager -u portsyncd -n 60 2>/dev/null
  exit 1
fi
exit 0
