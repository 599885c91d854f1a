#!/usr/bin/env bash
# Installs the Debian packages the build needs, only those missing. Runs apt-get when root;
# otherwise names what to install and fails.
set -euo pipefail

packages=(cmake ninja-build g++ clang libclang-rt-dev clang-format libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libcpp-httplib-dev libgraphviz-dev graphviz chromium
          libcereal-dev libsodium-dev libtcc-dev tcc)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "stackless: missing Debian packages: ${missing[*]}" >&2
  echo "stackless: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "stackless: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
