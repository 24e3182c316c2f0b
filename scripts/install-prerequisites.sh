#!/usr/bin/env bash
# Installs the Debian packages Oubliette and its tests need, only when missing (a no-op on a prepared machine).
# The .NET 10 SDK is a prerequisite of the machine itself (README).
set -euo pipefail

need_packages=()
command -v sqlite3 >/dev/null 2>&1 || need_packages+=(sqlite3)
command -v curl >/dev/null 2>&1 || need_packages+=(curl)
command -v pgrep >/dev/null 2>&1 || need_packages+=(procps)
command -v setsid >/dev/null 2>&1 || need_packages+=(util-linux)
command -v git >/dev/null 2>&1 || need_packages+=(git)
command -v npm >/dev/null 2>&1 || need_packages+=(npm)
command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_packages+=(debootstrap)

if ((${#need_packages[@]} > 0)); then
  echo "installing Debian packages: ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required and not on PATH" >&2
  exit 1
fi

# The conformance suite's Node dependencies (the official MCP TypeScript SDKs, the MCP Inspector CLI, OpenCode),
# exactly as locked in tests/conformance/package-lock.json; skipped when that lockfile is already installed.
conformance="$(dirname "$0")/../tests/conformance"
if ! cmp -s "$conformance/package-lock.json" "$conformance/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "installing the conformance suite's locked Node dependencies (npm ci)"
  (cd "$conformance" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
