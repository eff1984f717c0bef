#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and demoing portsyncd needs.
# Idempotent; run as root (or with sudo). Nothing is downloaded outside apt.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang
  # sanitizer builds and libFuzzer (clang's runtimes), symbolized reports (llvm-symbolizer)
  libclang-rt-14-dev llvm
  # libraries
  libmnl-dev libhiredis-dev libabsl-dev libsystemd-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libtoml11-dev nlohmann-json3-dev libcpp-httplib-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # runtime for tests and the demo
  redis-server redis-tools iproute2 jq procps util-linux python3 python3-redis python3-matplotlib python3-grpcio
  python3-protobuf openssl systemd dpkg-dev
  # SONiC runs portsyncd under supervisord (tests/integration/test_supervisor.py)
  supervisor
  # the package under a real systemd in a container (deploy/systemd-check.sh)
  debootstrap systemd-container
)

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

