#!/usr/bin/env bash
# Set-up for a fresh Debian 12 machine: the Debian packages the lab and the tests use, then
# `npm ci` (which builds the native addon and the TypeScript). Safe to run again.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The lab and its reference programs, plus a C toolchain and python3 for node-gyp (the addon).
packages=(user-mode-linux ipvsadm iptables iproute2 keepalived prometheus build-essential python3)

# Runs one phase, printing how long it took even when it fails.
run_phase() {
  local name=$1 start status=0
  shift
  start=$(date +%s)
  echo "ci: == $name =="
  "$@" || status=$?
  echo "ci: $name took $(($(date +%s) - start)) s (exit status $status)"
  return "$status"
}

sudo=()
if [[ $EUID -ne 0 ]]; then sudo=(sudo); fi
policy=/usr/sbin/policy-rc.d
policy_created=no

install_missing_packages() {
  local missing=() pkg
  for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "ci: all packages present"
    return 0
  fi
  echo "ci: installing ${missing[*]}"
  # Installing keepalived or prometheus must not start their services on the CI machine.
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null || return
    policy_created=yes
    "${sudo[@]}" chmod 755 "$policy" || return
  fi
  # Called under `||`, where errexit is off: each step returns its own failure.
  "${sudo[@]}" apt-get update -q || return
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((major < 20)); then
    echo "ci: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)); Debian 12's nodejs package is 18, install Node 20 first" >&2
    return 1
  fi
  echo "ci: node $(node --version), npm $(npm --version)"
}

on_exit() {
  if [[ $policy_created == yes ]]; then "${sudo[@]}" rm -f "$policy"; fi
  echo "ci: total $(($(date +%s) - total_start)) s"
}
total_start=$(date +%s)
trap on_exit EXIT
run_phase packages install_missing_packages
check_node
run_phase "npm ci" npm ci --no-audit --no-fund
