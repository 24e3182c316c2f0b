#!/usr/bin/env bash
# Sets up and runs the Oubliette server on a fresh Debian machine (root, .NET 10 SDK present):
# installs prerequisites, builds and installs `oubliette` onto PATH, creates the home on first run, starts the server.
#
# The home: --dir D, else $OUBLIETTE_HOME, else ./.oubliette (when it exists), else the home recorded by an earlier
# run.sh, else ~/.oubliette: the order every `oubliette` command follows. run.sh records the home it used in
# /etc/oubliette/home ($OUBLIETTE_HOME_RECORD names another file), so that later `oubliette` commands and new shells,
# in any directory, find it without --dir.
#
#   ./run.sh                      start the server in the foreground (first run: `oubliette init`, images)
#   ./run.sh --daemon             start it in the background
#   ./run.sh --version | --help   install, then show the build / the help (no home needed)
#   ./run.sh <command> [args]     install, then run `oubliette <command>` on this home (status, stop, token list, ...)
set -euo pipefail

record=${OUBLIETTE_HOME_RECORD:-/etc/oubliette/home}

"$(dirname "$0")/scripts/install.sh"

case "${1:-}" in
  --version|--help|-h|-\?)
    exec oubliette "$@" ;;
esac

home=""
args=()
while (($# > 0)); do
  case "$1" in
    --dir) home=${2:?--dir needs a folder}; shift 2 ;;
    --dir=*) home=${1#--dir=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -z "$home" ]]; then
  if [[ -n "${OUBLIETTE_HOME:-}" ]]; then home=$OUBLIETTE_HOME
  elif [[ -d ./.oubliette ]]; then home=$PWD/.oubliette
  elif [[ -s "$record" ]]; then home=$(<"$record")
  else home=$HOME/.oubliette
  fi
fi
home=$(realpath -m "$home")

echo "oubliette home: $home" >&2
# A subcommand (status, stop, token ..., mcp ...) runs on this home; only starting the server needs the set-up below.
if ((${#args[@]} > 0)) && [[ "${args[0]}" != -* ]]; then
  exec oubliette --dir "$home" "${args[@]}"
fi

# The server's home is the one later commands should find.
mkdir -p "$(dirname "$record")"
if [[ "$(cat "$record" 2>/dev/null)" != "$home" ]]; then
  printf '%s\n' "$home" > "$record.tmp" && mv "$record.tmp" "$record"
  echo "recorded in $record: later 'oubliette' commands use this home from any directory"
fi

"$(dirname "$0")/scripts/start-dockerd.sh"
if [[ ! -f "$home/config/oubliette.jsonc" ]]; then
  # Picks up ANTHROPIC_API_KEY, OPENAI_API_KEY or OUBLIETTE_MODEL_BASE_URL (+ OUBLIETTE_MODEL) for a first model.
  oubliette init --dir "$home"
fi
# Builds the agent images only when missing or when their recipe changed.
oubliette image build --dir "$home"

exec oubliette --dir "$home" "${args[@]}"
