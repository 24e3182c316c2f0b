#!/usr/bin/env bash
# Builds Oubliette in Release and installs the `oubliette` executable onto PATH (/usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${OUBLIETTE_PREFIX:-/opt/oubliette}
bindir=${OUBLIETTE_BINDIR:-/usr/local/bin}

scripts/install-prerequisites.sh
dotnet publish src/Oubliette/Oubliette.csproj -c Release -o "$prefix" --nologo -v quiet
ln -sf "$prefix/oubliette" "$bindir/oubliette"
echo "installed $(oubliette --version) at $bindir/oubliette"
