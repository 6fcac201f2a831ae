#!/usr/bin/env bash
# Provide the Dockerfile's base image (debian:bookworm-slim) on machines that
# cannot pull it: debootstrap a minimal Debian, trim what a slim image leaves
# out, and import it under the exact name the Dockerfile's FROM uses, so the
# same Dockerfile builds unchanged online and offline.
set -euo pipefail

image="${BASE_IMAGE:-debian:bookworm-slim}"
suite="${image##*:}"
suite="${suite%-slim}"

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
  exit 0
fi

echo "ensure-base-image: $image cannot be pulled; building it with debootstrap" >&2
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase "$suite" "$rootfs" >/dev/null

# What the official slim image also leaves out: package caches, docs, man pages, locales.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/var/log/* "$rootfs"/tmp/*
find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
cat >"$rootfs"/etc/dpkg/dpkg.cfg.d/docker-slim <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
echo 'APT::Install-Recommends "false";' >"$rootfs"/etc/apt/apt.conf.d/99no-recommends

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$image" >/dev/null
echo "ensure-base-image: imported $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)" >&2
