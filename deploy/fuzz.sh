#!/usr/bin/env bash
# Runs libFuzzer targets (tests/fuzz) for longer than CI does.
# Usage: deploy/fuzz.sh [TARGET|all] [SECONDS] [BUILD_DIR]
#   TARGET: netlink, db_config, daemon_config, names or redis_reply (default: all)
#   SECONDS: per target (default 600); BUILD_DIR: default build-fuzz (configured with clang,
#   -DPORTSYNCD_FUZZ=ON, if it is not a build directory yet)
# New inputs are kept in BUILD_DIR/tests/fuzz/work/TARGET/corpus across runs; a crash leaves
# its reproducer next to it (crash-<sha1>): run BUILD_DIR/tests/fuzz/TARGET_fuzzer FILE to
# reproduce, fix, add a unit test, and copy the (minimized: -minimize_crash=1) input into
# tests/fuzz/corpus/TARGET/. Merge useful new inputs into the seeds with
#   TARGET_fuzzer -merge=1 tests/fuzz/corpus/TARGET BUILD_DIR/tests/fuzz/work/TARGET/corpus
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-600}
build_dir=${3:-build-fuzz}
all=(netlink db_config daemon_config names redis_reply gnmi_path)

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DPORTSYNCD_FUZZ=ON
fi
if [ "$target" = all ]; then targets=("${all[@]}"); else targets=("$target"); fi
nice -n 10 cmake --build "$build_dir" -j "$(nproc)" \
  --target "${targets[@]/%/_fuzzer}"
status=0
for t in "${targets[@]}"; do
  tests/fuzz/run_fuzzer.sh "$build_dir/tests/fuzz/${t}_fuzzer" "tests/fuzz/corpus/$t" \
    "$seconds" "$build_dir/tests/fuzz/work/$t" || status=1
done
exit "$status"
