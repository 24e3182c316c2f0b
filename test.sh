#!/usr/bin/env bash
# Sets up and runs every test on a fresh Debian machine (root, .NET 10 SDK present).
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-prerequisites.sh
dotnet build Oubliette.slnx -c Release --nologo -v quiet
dotnet test Oubliette.slnx -c Release --no-build --nologo --logger "console;verbosity=normal"
