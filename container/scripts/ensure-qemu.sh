#!/usr/bin/env bash
# Let this machine run another CPU's Linux binaries, so that `docker build --platform` can build and
# `docker run` can check an image for it. Prints the emulator's path on stdout; idempotent.
# Usage: ensure-qemu.sh [MACHINE]  (a `uname -m` name; default aarch64)
#
# The emulator is Debian's qemu-user from the release's backports suite (QEMU 10 for bookworm), unpacked
# into the user's cache, not installed: bookworm's own QEMU 7.2 shows an arm64 program the host's x86
# /proc/cpuinfo, and ONNX Runtime's CPU detection dereferences NULL on it (`import onnxruntime`
# segfaults); later QEMU emulates /proc/cpuinfo for arm64. Its binfmt_misc handler is registered with
# the F (fix binary) flag, so that the kernel holds the emulator open and containers, which do not have
# it in their file system, use it too. Machines without systemd (CI runners) get it registered here.
set -euo pipefail

machine="${1:-aarch64}"
binfmt=/proc/sys/fs/binfmt_misc
handler="$binfmt/qemu-$machine"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/darknet-lambda/qemu"

unpacked() { find "$cache" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -V | tail -n 1 || true; }

fetch() {
  local codename work apt_options deb version
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial"
  # The host's own Debian sources, with the suite switched to its backports (deb822 and one-line form).
  for file in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$file" ]] || continue
    awk -v suite="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ "\nSuites:[^\n]*[ ]" suite "([ \n]|$)" || $0 ~ "^Suites:[^\n]*[ ]" suite "([ \n]|$)" {
        sub(/Suites:[^\n]*/, "Suites: " suite "-backports"); print }' "$file"
  done >"$work/sources/backports.sources"
  sed -n "s/^\(deb \(\[[^]]*\] \)\{0,1\}[^ ]* \)$codename\( .*\)$/\1$codename-backports\3/p" \
    /etc/apt/sources.list 2>/dev/null >"$work/backports.list" || true
  apt_options=(-o "Dir::Etc::SourceList=$work/backports.list" -o "Dir::Etc::SourceParts=$work/sources"
               -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
               -o APT::Sandbox::User=root)
  echo "ensure-qemu: downloading qemu-user from $codename-backports (the configured Debian sources)" >&2
  apt-get "${apt_options[@]}" update -qq >/dev/null
  (cd "$work" && apt-get "${apt_options[@]}" download -qq -t "$codename-backports" qemu-user >/dev/null)
  deb="$(find "$work" -maxdepth 1 -name 'qemu-user_*.deb' | head -n 1)"
  if [[ -z "$deb" ]]; then
    echo "ensure-qemu: $codename-backports offers no qemu-user" >&2
    exit 1
  fi
  version="$(dpkg-deb -f "$deb" Version)"
  mkdir -p "$cache"
  dpkg-deb -x "$deb" "$work/root"
  mv "$work/root" "$cache/${version//[:~]/_}"
}

root="$(unpacked)"
if [[ -z "$root" || ! -x "$root/usr/bin/qemu-$machine" ]]; then
  fetch
  root="$(unpacked)"
fi
if [[ ! -x "$root/usr/bin/qemu-$machine" ]]; then
  echo "ensure-qemu: qemu-user has no emulator for $machine" >&2
  exit 1
fi

if [[ "$machine" != "$(uname -m)" ]]; then
  interpreter="$root/usr/libexec/qemu-binfmt/$machine-binfmt-P"
  if ! { [[ -f "$handler" ]] && grep -qx enabled "$handler" && grep -qx "interpreter $interpreter" "$handler" \
           && grep -q '^flags: .*F' "$handler"; }; then
    if [[ "$(id -u)" -ne 0 ]]; then
      echo "ensure-qemu: registering an emulator for $machine needs root (binfmt_misc is kernel-wide)" >&2
      exit 1
    fi
    if [[ ! -f "$binfmt/register" ]]; then
      mount -t binfmt_misc binfmt_misc "$binfmt" || {
        echo "ensure-qemu: cannot mount binfmt_misc at $binfmt (a container needs --privileged)" >&2
        exit 1
      }
    fi
    # Another emulator registered before (bookworm's, or one without the F flag) gives way to this one.
    [[ -f "$handler" ]] && echo -1 >"$handler"
    line="$(grep -m1 "^:qemu-$machine:" "$root/usr/share/qemu/binfmt.d/qemu-$machine.conf")"
    line="${line/:\/usr\/libexec\//:$root\/usr\/libexec\/}"
    [[ "${line##*:}" == *F* ]] || line="${line}F"
    printf '%s' "$line" >"$binfmt/register"
    if ! grep -qx enabled "$handler" || ! grep -q '^flags: .*F' "$handler"; then
      echo "ensure-qemu: the $machine handler did not register" >&2
      exit 1
    fi
    echo "ensure-qemu: registered $(basename "$root") $machine emulator" >&2
  fi
fi
echo "$root/usr/bin/qemu-$machine"
