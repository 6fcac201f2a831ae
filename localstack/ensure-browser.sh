#!/usr/bin/env bash
# Make a headless browser available for the viewer's end-to-end test: Debian's chromium, installed from
# the configured apt sources when missing (Playwright's own browser download needs a site this machine
# cannot reach; the test drives this one). Idempotent and quiet when it is already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-browser: installing chromium from the configured apt sources" >&2
export DEBIAN_FRONTEND=noninteractive
# Another install may hold dpkg's lock for a while: wait for it rather than fail.
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
