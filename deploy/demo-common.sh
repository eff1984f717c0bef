# Sourced by deploy/demo.sh and deploy/demo-host.sh: install and build (unless --no-build), and
# the helpers both use. Sets build_dir (absolute), portsyncd, portsyncctl.

# demo_build [--no-build] [BUILD_DIR]
demo_build() {
  local build=1
  if [ "${1:-}" = --no-build ]; then build=0; shift; fi
  build_dir=${1:-build}
  if [ "$build" = 1 ]; then
    ./deploy/install-deps.sh
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build_dir" -j "$(nproc)"
  fi
  build_dir=$(cd "$build_dir" && pwd)
  portsyncd=$build_dir/server/portsyncd
  portsyncctl=$build_dir/client/portsyncctl
}

# stop_pid SIGNAL PID: signals PID (when set and alive) and waits for it.
stop_pid() { [ -n "$2" ] && kill "-$1" "$2" 2>/dev/null && wait "$2" 2>/dev/null; true; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
    sleep 0.05
  done
}
