#!/usr/bin/env bash
# Make a Docker engine available: install Debian's docker.io when no engine is
# installed and start dockerd when none is running. Idempotent and quiet when
# an engine already answers.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io from the configured apt sources" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

log_dir="${XDG_CACHE_HOME:-$HOME/.cache}/darknet-lambda"
mkdir -p "$log_dir"
echo "ensure-docker: starting dockerd (log: $log_dir/dockerd.log)" >&2
# Detached, with none of the caller's files open: `nohup dockerd &` kept them all, so a lock the
# caller held stayed held for as long as the engine ran.
python3 "$(dirname "${BASH_SOURCE[0]}")/detach.py" --log "$log_dir/dockerd.log" -- dockerd >/dev/null

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not come up; see $log_dir/dockerd.log" >&2
tail -n 20 "$log_dir/dockerd.log" >&2 || true
exit 1
