#!/usr/bin/env bash
# Host-mode demo: portsyncd on a Linux host with no SONiC database (no Redis at all), in a
# throwaway network namespace holding a few veth and bridge interfaces. Shows what the daemon
# follows (every interface but lo), `portsyncctl watch` and a gNMI ON_CHANGE subscription
# following a cable pull and an admin down, each change stamped with the kernel message's time,
# and /metrics with the time of each link's last change. Everything it starts is stopped by PID,
# and the namespaces deleted, on exit (also on Ctrl-C or failure).
# Usage (as root): deploy/demo-host.sh [--no-build] [BUILD_DIR]
#   (deploy/demo.sh runs it after the SONiC demo; --no-build skips install and build)
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/demo-common.sh
demo_build "$@"
stubs=$build_dir/proto/python

work=$(mktemp -d /tmp/portsyncd-demo-host.XXXXXX)
host=demo-host-$$
far=demo-far-$$
daemon_pid=
watch_pid=
gnmi_pid=
cleanup() {
  stop_pid INT "$watch_pid"
  stop_pid INT "$gnmi_pid"
  stop_pid TERM "$daemon_pid"
  ip netns del "$host" 2>/dev/null || true
  ip netns del "$far" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ctl() { "$portsyncctl" --target "unix:$work/run/portsyncd.sock" "$@"; }
in_log() { grep -q "$1" "$work/out.log"; }
# in_log_times PATTERN N: PATTERN is in the output at least N times.
in_log_times() { [ "$(grep -c "$1" "$work/out.log")" -ge "$2" ]; }
all_oper_up() { [ "$(ctl ports | awk 'NR > 1 && $3 != "up"' | wc -l)" = 0 ]; }

say "Namespaces $host (the host: eth1, eth2, br0 with eth2 in it, lo) and $far (the other ends)"
ip netns add "$host"
ip netns add "$far"
for ns in "$host" "$far"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$far" link add pad0 type ifb  # keeps peer ifindexes distinct (fast carrier events)
ip -n "$host" link set lo up
for i in 1 2; do
  ip -n "$host" link add "eth$i" type veth peer name "far$i" netns "$far"
  ip -n "$far" link set "far$i" up
  ip -n "$host" link set "eth$i" up
done
ip -n "$host" link add br0 type bridge
ip -n "$host" link set eth2 master br0
ip -n "$host" link set br0 up

say "No redis-server, no database_config.json: portsyncd --no-redis (host mode), metrics on"
printf '[metrics]\nlisten = "127.0.0.1:9108"\n' >"$work/portsyncd.conf"
ip netns exec "$host" "$portsyncd" --no-redis --config "$work/portsyncd.conf" \
  --runtime-dir "$work/run" >"$work/daemon.log" 2>&1 &
daemon_pid=$!  # `ip netns exec` execs the daemon: this is its PID
wait_for 10 test -S "$work/run/portsyncd.sock"
wait_for 10 ctl ports
sed 's/^/    portsyncd| /' "$work/daemon.log"
wait_for 10 all_oper_up  # the kernel sets carrier a moment after `link set up`

say "portsyncctl health: host mode, nothing written anywhere"
ctl health

say "portsyncctl ports: every interface but lo (no STATE_DB here: '-')"
ctl ports

say "portsyncctl watch and a gNMI ON_CHANGE subscription to every interface's oper-status"
: >"$work/out.log"
"$portsyncctl" --target "unix:$work/run/portsyncd.sock" watch > >(sed -u 's/^/    watch| /' | tee -a "$work/out.log") 2>&1 &
watch_pid=$!
PORTSYNCD_PY_STUBS=$stubs PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
  /usr/bin/python3 - "$work/run/portsyncd.sock" <<'PY' > >(sed -u 's/^/    gnmi | /' | tee -a "$work/out.log") 2>&1 &
import datetime, signal, sys
sys.path.insert(0, "tests/integration")
import gnmi_client as gc
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
channel, stub = gc.connect(sys.argv[1])
sub = gc.Subscription(stub, gc.subscription_list(
    ["/interfaces/interface[name=*]/state/oper-status"], sub_mode=gc.g.ON_CHANGE))
while True:
    r = sub.next(timeout=3600)
    if r is None:
        break
    if r.HasField("sync_response"):
        print("sync_response: the initial state is above; changes follow", flush=True)
        continue
    when = datetime.datetime.fromtimestamp(r.update.timestamp / 1e9).strftime("%H:%M:%S.%f")
    for p, (v, _) in sorted(gc.leaves(r.update).items()):
        print(f"{when} {p} = {v}", flush=True)
PY
gnmi_pid=$!
wait_for 10 in_log "sync_response"
wait_for 10 in_log "watching "  # portsyncctl watch has its snapshot too

say "Cable pull on eth1 (its far end goes down), then back"
ip -n "$far" link set far1 down
wait_for 5 in_log_times "eth1\]/state/oper-status = DOWN" 1
ip -n "$far" link set far1 up
wait_for 5 in_log_times "eth1\]/state/oper-status = UP" 2  # the first: the initial state

say "Admin down on br0, then up"
ip -n "$host" link set br0 down
wait_for 5 in_log_times "br0\]/state/oper-status = DOWN" 1
ip -n "$host" link set br0 up
wait_for 10 in_log_times "br0\]/state/oper-status = UP" 2

say "/metrics: each link's oper state and when it last changed (what node_exporter cannot say)"
ip netns exec "$host" /usr/bin/python3 -c \
  'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9108/metrics", timeout=5).read().decode())' |
  grep -E '^portsyncd_(mode|port_oper_up|port_oper_last_change)' | sed 's/^/    /'

say "Stopping portsyncd (SIGTERM)"
kill "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
tail -n 1 "$work/daemon.log" | sed 's/^/    portsyncd| /'
say "Host demo done"
