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
# The log is kept so that a red run ends with the names and first error lines of its failed tests:
# CI shows only the tail of the output.
log="$(mktemp -t oubliette-test-log.XXXXXX)"
set +e
dotnet test Oubliette.slnx -c Release --no-build --nologo --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo
  echo "=== failed tests: first lines of each error ==="
  awk '/^  Failed [A-Za-z]/ { n = 10 } /^  (Passed|Skipped) / { n = 0 } n > 0 { print substr($0, 1, 300); n-- }' "$log"
  echo "=== failed tests ==="
  grep -E '^  Failed [A-Za-z]' "$log" || echo "(no test failed; dotnet test exited with $status)"
fi
rm -f "$log"
exit "$status"
