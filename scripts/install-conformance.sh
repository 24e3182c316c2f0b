#!/usr/bin/env bash
# The conformance suite's Node dependencies (the official MCP TypeScript SDKs, the MCP Inspector CLI, OpenCode, and Claude Code
# for the mcp --setup client tests),
# exactly as locked in tests/conformance/package-lock.json; skipped when that lockfile is already installed.
# Only the tests need them (test.sh), never the server (run.sh).
set -euo pipefail
conformance="$(dirname "$0")/../tests/conformance"
if ! cmp -s "$conformance/package-lock.json" "$conformance/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "installing the conformance suite's locked Node dependencies (npm ci)"
  (cd "$conformance" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
