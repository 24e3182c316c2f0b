#!/usr/bin/env bash
# Sets up and runs every test on a fresh Debian machine (root, .NET 10 SDK present).
set -euo pipefail
cd "$(dirname "$0")"

scripts/install-prerequisites.sh
scripts/install-conformance.sh
scripts/start-dockerd.sh
dotnet build Oubliette.slnx -c Release --nologo -v quiet
# The end-to-end tests run the real agent images; this builds them only when missing or when their recipe changed.
src/Oubliette/bin/Release/net10.0/oubliette image build
dotnet test Oubliette.slnx -c Release --no-build --nologo --logger "console;verbosity=normal"
