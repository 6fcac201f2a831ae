#!/usr/bin/env bash
# Provide the Dockerfile's base image (debian:bookworm-slim) on machines that
# cannot pull it: debootstrap a minimal Debian, trim what a slim image leaves
# out, and import it under the exact name the Dockerfile's FROM uses, so the
# same Dockerfile builds unchanged online and offline.
# BASE_PLATFORM=linux/arm64 (with BASE_IMAGE naming an arm64-only repository, such as Docker's
# arm64v8/debian) makes the base for another CPU: debootstrap runs its second stage under qemu-user.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${BASE_IMAGE:-debian:bookworm-slim}"
platform="${BASE_PLATFORM:-}"
suite="${image##*:}"
suite="${suite%-slim}"

if [[ -n "$platform" ]]; then
  arch="${platform#linux/}"
  have="$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$image" 2>/dev/null || true)"
  if [[ "$have" == "$platform" ]]; then
    exit 0
  fi
  if [[ -n "$have" ]]; then
    echo "ensure-base-image: $image is $have, not $platform; rebuilding it" >&2
  elif timeout 60 docker pull -q --platform "$platform" "$image" >/dev/null 2>&1; then
    exit 0
  fi
else
  if docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
  fi
  if timeout 60 docker pull -q "$image" >/dev/null 2>&1; then
    exit 0
  fi
fi

echo "ensure-base-image: $image cannot be pulled; building it with debootstrap" >&2
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
if [[ -n "$platform" ]]; then
  case "$arch" in
    arm64) machine=aarch64 ;;
    amd64) machine=x86_64 ;;
    *) echo "ensure-base-image: no emulator known for $platform" >&2; exit 1 ;;
  esac
  bash "$here/ensure-qemu.sh" "$machine" >/dev/null
  debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" >/dev/null
else
  debootstrap --variant=minbase "$suite" "$rootfs" >/dev/null
fi

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

if [[ -n "$platform" ]]; then
  # `docker import --platform` needs an experimental engine; a build from scratch records the platform
  # on any engine, and a later `docker build --platform` finds the image locally instead of pulling.
  context="$(mktemp -d)"
  trap 'rm -rf "$rootfs" "$context"' EXIT
  tar -C "$rootfs" -cf "$context/rootfs.tar" .
  printf '%s\n' 'FROM scratch' 'ADD rootfs.tar /' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["bash"]' \
    >"$context/Dockerfile"
  docker build --quiet --platform "$platform" -t "$image" "$context" >/dev/null
else
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$image" >/dev/null
fi
echo "ensure-base-image: imported $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)" >&2
