#!/usr/bin/env bash
# Installs the Debian 12 packages Sluice builds and tests with, and the npm packages of the
# dashboard and the end-to-end tests. Safe to run again: does nothing when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libsimdjson-dev librocksdb-dev libboost-dev libcli11-dev libfmt-dev libspdlog-dev
  libtomlplusplus-dev nlohmann-json3-dev libzstd-dev libsnappy-dev libssl-dev libre2-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang clang-format libclang-rt-14-dev chromium
  curl
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (with npm bundled); only ask apt when absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Front-end packages (uPlot, vendored into the binary) and the e2e test clients.
for dir in web tests/e2e; do
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules" ]; then
    echo "install-deps: npm install in $dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
done
