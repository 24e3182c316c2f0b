#!/usr/bin/env bash
# Sets up and runs the Oubliette server on a fresh Debian machine (root, .NET 10 SDK present):
# installs prerequisites, builds and installs `oubliette` onto PATH, creates the home on first run, starts the server.
# The home is the one every `oubliette` command finds: $OUBLIETTE_HOME, else ./.oubliette, else ~/.oubliette.
set -euo pipefail

home=${OUBLIETTE_HOME:-}
if [[ -z "$home" ]]; then
  if [[ -d ./.oubliette ]]; then home=$PWD/.oubliette; else home=$HOME/.oubliette; fi
fi

"$(dirname "$0")/scripts/install.sh"
"$(dirname "$0")/scripts/start-dockerd.sh"
if [[ ! -f "$home/config/oubliette.jsonc" ]]; then
  oubliette init --dir "$home"
fi
# Builds the agent images only when missing or when their recipe changed.
oubliette image build --dir "$home"

exec oubliette --dir "$home" "$@"
