#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time over its seed corpus; fails on any crash, leak,
# sanitizer report or timeout, printing the reproducer.
# Usage: run_fuzzer.sh FUZZER_BINARY SEED_DIR SECONDS WORK_DIR
# New inputs go to WORK_DIR/corpus (the seed directory in the repository is only read); a
# crashing input is written to WORK_DIR/crash-<sha1> (or leak-, timeout-, oom-).
# Reproduce one: FUZZER_BINARY WORK_DIR/crash-<sha1>
set -euo pipefail
fuzzer=$1
seeds=$2
seconds=$3
work=$4
name=$(basename "$fuzzer")
mkdir -p "$work/corpus"
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
# The fuzzer reports to its own stderr (not to the sanitizer-reports/ files a sanitizer build's
# ctest environment names): libFuzzer prints the input and writes the reproducer itself.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
unset LSAN_OPTIONS TSAN_OPTIONS
log="$work/fuzz.log"
status=0
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: the parsers' inputs are small.
# PORTSYNCD_FUZZ_SEED (CI sets 1) fixes libFuzzer's random seed, so a CI run repeats the
# mutations of the last one (plus what a faster machine gets to) instead of failing at random on
# new ground; long runs leave it unset and explore.
"$fuzzer" "$work/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  ${PORTSYNCD_FUZZ_SEED:+-seed=$PORTSYNCD_FUZZ_SEED} \
  -print_final_stats=1 -artifact_prefix="$work/" >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
corpus=$(ls "$work/corpus" | wc -l)
artifacts=$(for kind in crash leak timeout oom; do compgen -G "$work/$kind-*" || true; done)
if [ "$status" -ne 0 ] || [ -n "$artifacts" ]; then
  tail -n 80 "$log"
  echo "FAIL: $name exited $status; reproducer(s): ${artifacts:-none}"
  echo "reproduce: $fuzzer FILE; minimize: $fuzzer -minimize_crash=1 -exact_artifact_path=min FILE"
  exit 1
fi
echo "OK: $name ${seconds}s: ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}," \
  "$(ls "$seeds" | wc -l) seeds, $corpus new inputs in $work/corpus"
