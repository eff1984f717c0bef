#!/usr/bin/env bash
# A sanitizer build and its ctest run, failing on any sanitizer report.
# Usage: deploy/sanitize.sh asan|tsan BUILD_DIR [CTEST_ARGS...]
#   asan: clang, -fsanitize=address,undefined (LeakSanitizer on) for every target, clang's
#         -Wthread-safety as errors over core/ and server/, and the libFuzzer targets; ctest runs
#         every test (unit, integration, deploy) except the fuzz ones (deploy/fuzz.sh runs those)
#         and the bench ones (speed and footprint, which ASan changes by design).
#   tsan: clang, -fsanitize=thread, absl::Mutex made visible to TSan
#         (tests/sanitizers/tsan_absl_mutex.cc); ctest runs what TSan can honestly check: the
#         unit tests, the absl::Mutex self-test, the deploy test and the integration suites that
#         are not dominated by gRPC traffic (see docs/RELIABILITY.md, "ThreadSanitizer").
# Every test runs with *SAN_OPTIONS that abort on the first report and write it to
# BUILD_DIR/sanitizer-reports/ (tests/sanitizers/CMakeLists.txt), so a report from a daemon
# whose output only goes to a test's log file still fails this script, which prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=$1
build_dir=$2
shift 2

case "$kind" in
  asan)
    cmake_args=(-DPORTSYNCD_SANITIZE=address,undefined -DPORTSYNCD_FUZZ=ON)
    # Not the bench tests: they measure speed and footprint, which ASan changes by design.
    ctest_args=(-LE 'fuzz|bench')
    build_targets=(all)
    ;;
  tsan)
    cmake_args=(-DPORTSYNCD_SANITIZE=thread)
    # Every test except the fuzz and bench ones and the five integration suites built on gRPC
    # streaming and unary traffic: there every TSan report is a handoff inside Debian's
    # uninstrumented gRPC (its completion queue), whatever our code does (docs/RELIABILITY.md).
    ctest_args=(-LE 'fuzz|bench' -E 'integration\.test_(api|portsyncctl|tls|hostile_grpc|gnmi)$')
    build_targets=(all)
    ;;
  *)
    echo "usage: $0 asan|tsan BUILD_DIR [CTEST_ARGS...]" >&2
    exit 2
    ;;
esac
if [ $# -gt 0 ]; then ctest_args=("$@"); fi

start=$SECONDS
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ "${cmake_args[@]}"
nice -n 10 cmake --build "$build_dir" -j "$(nproc)" --target "${build_targets[@]}"
if [ "$kind" = tsan ]; then
  # The absl::Mutex shim must be the daemon's own definition, or TSan sees none of its locks.
  # (grep -c reads all of nm's output: with -q, nm could die of SIGPIPE and fail the pipeline.)
  nm "$build_dir/server/portsyncd" | grep -c ' T _ZN4absl[0-9a-z]*5Mutex4LockEv$' >/dev/null ||
    { echo "FAIL: absl::Mutex::Lock is not defined in the TSan portsyncd" >&2; exit 1; }
fi

echo "sanitize.sh $kind: configure + build took $((SECONDS - start)) s"
start=$SECONDS
reports=$build_dir/sanitizer-reports
rm -rf "$reports"
status=0
(cd "$build_dir" && ctest --output-on-failure --timeout 600 -j 1 "${ctest_args[@]}") || status=$?
echo "sanitize.sh $kind: ctest took $((SECONDS - start)) s"
if compgen -G "$reports/*" >/dev/null; then
  for f in "$reports"/*; do
    echo "==================== sanitizer report: $f"
    head -n 200 "$f"
  done
  echo "FAIL: $(ls "$reports" | wc -l) sanitizer report(s) in $reports" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "FAIL: ctest under $kind exited $status" >&2
  exit "$status"
fi
echo "OK: no sanitizer report ($kind)"
