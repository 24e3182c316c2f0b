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
