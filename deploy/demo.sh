#!/usr/bin/env bash
# Live demo: installs dependencies, builds, then runs portsyncd against a private redis-server
# and a throwaway network namespace holding EthernetN ports, and shows STATE_DB following the
# kernel as ports are flapped; then deploy/demo-host.sh, host mode without any database.
# Everything it starts is stopped, and the namespaces deleted, on exit (also on Ctrl-C or
# failure).
# Usage (as root): deploy/demo.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/demo-common.sh
demo_build "$@"

work=$(mktemp -d /tmp/portsyncd-demo.XXXXXX)
sw=demo-sw-$$
wire=demo-wire-$$
redis_pid=
daemon_pid=
watch_pid=
cleanup() {
  stop_pid INT "$watch_pid"
  stop_pid TERM "$daemon_pid"
  stop_pid TERM "$redis_pid"
  ip netns del "$sw" 2>/dev/null || true
  ip netns del "$wire" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cli() { redis-cli -s "$work/redis.sock" -n "$@"; }
show_state() {
  printf '%-12s %-7s %-6s %-6s %s\n' PORT ADMIN OPER MTU STATE
  for p in Ethernet0 Ethernet4 Ethernet8 Ethernet12; do
    mapfile -t f < <(cli 6 HMGET "PORT_TABLE|$p" admin_status netdev_oper_status mtu state)
    printf '%-12s %-7s %-6s %-6s %s\n' "$p" "${f[0]:--}" "${f[1]:--}" "${f[2]:--}" "${f[3]:--}"
  done
}
has_hash() { [ -n "$(cli "$1" HGETALL "$2")" ]; }
field_is() { [ "$(cli "$1" HGET "$2" "$3")" = "$4" ]; }

say "Private redis-server on $work/redis.sock (keyspace notifications on, as SONiC runs it)"
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
  --notify-keyspace-events AKE --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
wait_for 5 cli 0 PING
cat >"$work/database_config.json" <<JSON
{"INSTANCES": {"redis": {"hostname": "127.0.0.1", "port": 6379,
                         "unix_socket_path": "$work/redis.sock"}},
 "DATABASES": {"APPL_DB": {"id": 0, "separator": ":", "instance": "redis"},
               "CONFIG_DB": {"id": 4, "separator": "|", "instance": "redis"},
               "STATE_DB": {"id": 6, "separator": "|", "instance": "redis"}},
 "VERSION": "1.0"}
JSON

say "CONFIG_DB: four ports, as config_db.json would load them"
for i in 0 4 8 12; do
  cli 4 HSET "PORT|Ethernet$i" lanes "$i" mtu 9100 admin_status up speed 100000 >/dev/null
done
cli 4 KEYS 'PORT|*' | sort -V

say "Namespaces $sw (the switch) and $wire (the far ends of the cables)"
ip netns add "$sw"
ip netns add "$wire"
for ns in "$sw" "$wire"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$wire" link add pad0 type ifb  # keeps peer ifindexes distinct (fast carrier events)

say "Starting portsyncd in $sw (cold start), with the shipped config file at INFO level"
"$portsyncd" --version
sed 's/^log_level = .*/log_level = "INFO"/' deploy/portsyncd.conf >"$work/portsyncd.conf"
ip netns exec "$sw" "$portsyncd" --config "$work/portsyncd.conf" \
  --db-config "$work/database_config.json" --runtime-dir "$work/run" 2>&1 |
  sed 's/^/    portsyncd| /' &
sleep 0.2
daemon_pid=$(pgrep -f -n -- "--runtime-dir $work/run")
wait_for 10 has_hash 0 _PORT_TABLE:PortConfigDone
echo "APPL_DB _PORT_TABLE:PortConfigDone: $(cli 0 HGETALL _PORT_TABLE:PortConfigDone | paste -sd' ')"

say "Playing orchagent: APPL_DB PORT_TABLE entries, then the netdevs"
for i in 0 4 8 12; do cli 0 HSET "PORT_TABLE:Ethernet$i" lanes "$i" admin_status up >/dev/null; done
for i in 0 4 8 12; do
  ip -n "$sw" link add "Ethernet$i" mtu 9100 type veth peer name "w$i" netns "$wire"
  ip -n "$wire" link set "w$i" up
  ip -n "$sw" link set "Ethernet$i" up
done
wait_for 10 has_hash 0 _PORT_TABLE:PortInitDone
echo "APPL_DB _PORT_TABLE:PortInitDone: $(cli 0 HGETALL _PORT_TABLE:PortInitDone | paste -sd' ')"
sleep 0.2
show_state
ctl() { "$portsyncctl" --target "unix:$work/run/portsyncd.sock" "$@"; }

say "portsyncctl ports (the daemon's view over gRPC)"
ctl ports

say "portsyncctl watch, in the background, follows every change live"
"$portsyncctl" --target "unix:$work/run/portsyncd.sock" watch > >(sed -u 's/^/    watch| /') 2>&1 &
watch_pid=$!
sleep 0.5

say "Cable pull on Ethernet4 (its peer goes down), admin down on Ethernet8, MTU 1500 on Ethernet12"
ip -n "$wire" link set w4 down
ip -n "$sw" link set Ethernet8 down
ip -n "$sw" link set Ethernet12 mtu 1500
sleep 0.3
show_state
ctl ports

say "Redis restarts empty; portsyncd reconnects and rewrites every key it owns"
kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true
ip -n "$wire" link set w4 up  # a change while Redis is away
redis-server --port 0 --unixsocket "$work/redis.sock" --save '' --appendonly no \
  --notify-keyspace-events AKE --dir "$work" >>"$work/redis.log" 2>&1 &
redis_pid=$!
wait_for 5 cli 0 PING
wait_for 5 field_is 6 'PORT_TABLE|Ethernet4' netdev_oper_status up
show_state

say "Ethernet0 deleted"
ip -n "$sw" link del Ethernet0
sleep 0.3
show_state

say "Someone else overwrites a field of ours (Ethernet12 mtu = 1): Redis notifies, portsyncd repairs"
cli 6 HSET 'PORT_TABLE|Ethernet12' mtu 1 >/dev/null
wait_for 5 field_is 6 'PORT_TABLE|Ethernet12' mtu 1500
show_state

say "portsyncctl health"
ctl health

say "Editing the config file, then portsyncctl reload (authorized by the daemon's reload token)"
sed -i 's/^audit_interval_ms = .*/audit_interval_ms = 2000/; s/^max_streams = .*/max_streams = 16/' \
  "$work/portsyncd.conf"
ctl --token-file "$work/run/reload.token" reload

say "Stopping portsyncd (SIGTERM); watch is told and would reconnect to a new one"
kill "$daemon_pid"
wait_for 10 sh -c "! kill -0 $daemon_pid"
daemon_pid=
sleep 0.3
kill -INT "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=
say "Demo done; now the same daemon on a host with no SONiC database (deploy/demo-host.sh)"
trap - EXIT INT TERM
cleanup
./deploy/demo-host.sh --no-build "$build_dir"
