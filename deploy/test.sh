#!/usr/bin/env bash
# Installs dependencies, configures, builds and runs every test with ctest.
# Usage: deploy/test.sh [BUILD_DIR]   (default: build)
# Needs root: integration tests create network namespaces and start their own redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}

./deploy/install-deps.sh
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j "$(nproc)"
cd "$build_dir"
# ctest prints its own summary ("100% tests passed, 0 tests failed out of N") at the end.
ctest --output-on-failure --timeout 600 -j 1
