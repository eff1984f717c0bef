#!/usr/bin/env bash
# Installs dependencies, configures, builds and runs every test with ctest, then the hardening
# steps: the whole suite again under ASan+UBSan+LSan (clang, with -Wthread-safety as errors),
# each libFuzzer target for a short run over its seed corpus, and the TSan checks.
# Usage: deploy/test.sh [BUILD_DIR]   (default: build; the hardening steps use BUILD_DIR-asan and
#        BUILD_DIR-tsan). PORTSYNCD_HARDENING=0 skips the hardening steps; PORTSYNCD_SYSTEMD_CHECK=0
#        skips deploy/systemd-check.sh (the package booted under systemd; needs Debian's archive).
# Needs root: integration tests create network namespaces and start their own redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

timings=()
# step NAME COMMAND...: runs one step with a header, and records how long it took.
step() {
  local name=$1
  shift
  echo
  echo "==================== $name"
  local start=$SECONDS
  "$@"
  local took=$((SECONDS - start))
  timings+=("$(printf '%5d s  %s' "$took" "$name")")
  echo "==================== $name: done in ${took} s"
}
run_ctest() {
  # ctest prints its own summary ("100% tests passed, 0 tests failed out of N") at the end.
  (cd "$build_dir" && ctest --output-on-failure --timeout 600 -j 1)
}

step "install dependencies" ./deploy/install-deps.sh
step "configure + build (gcc, $build_dir)" bash -c \
  "cmake -S . -B '$build_dir' -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
   cmake --build '$build_dir' -j $(nproc)"
step "ctest: unit, integration, deploy, bench smoke" run_ctest
if [ "${PORTSYNCD_SYSTEMD_CHECK:-1}" != 0 ]; then
  step "the Debian package on a clean Debian 12 under a real systemd (systemd-nspawn)" \
    ./deploy/systemd-check.sh "$build_dir"
fi

if [ "${PORTSYNCD_HARDENING:-1}" != 0 ]; then
  step "ASan+UBSan+LSan (clang, -Wthread-safety): build + whole ctest suite" \
    ./deploy/sanitize.sh asan "$build_dir-asan"
  step "fuzz: every libFuzzer target over its corpus" \
    env PORTSYNCD_FUZZ_SEED="${PORTSYNCD_FUZZ_SEED:-1}" \
    ./deploy/fuzz.sh all "${PORTSYNCD_FUZZ_SECONDS:-20}" "$build_dir-asan"
  step "TSan (clang): build + threaded tests" ./deploy/sanitize.sh tsan "$build_dir-tsan"
fi

echo
echo "==================== step times"
printf '%s\n' "${timings[@]}"
echo "total: ${SECONDS} s"
