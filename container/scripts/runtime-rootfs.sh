#!/bin/sh
# Assemble the runtime's root file system in $1 from the Debian packages the function needs and the
# packages they depend on, and nothing else: no shell tools, package manager or login system besides
# dash for the entrypoint script (distroless-style). Each package's files are copied as dpkg lists them,
# less documentation (its copyright file stays), and its status entry goes to var/lib/dpkg/status.d/,
# where image scanners (Trivy, Grype, Syft) read the packages of distroless images.
set -eu
root="$1"
shift
# The roots: Debian's python3, OpenMP for Darknet's library, dash for /lambda-entrypoint.sh.
wanted="python3 libgomp1 libstdc++6 dash"
# Left out with what they alone depend on: the package tooling that dash and python3-minimal declare
# for their maintainer scripts, which never run in the image; and the libraries only the standard
# library's terminal, local database, NIS and password-hashing modules link (readline, curses, dbm,
# sqlite3, nis, crypt), which go with those modules (ncurses, readline, Berkeley DB, SQLite, NIS/RPC and
# the Kerberos it pulls in, libcrypt).
skipped=" dpkg debianutils libreadline8 libncursesw6 libtinfo6 libdb5.3 libsqlite3-0 libnsl2 libtirpc3 libcrypt1 "
unused_modules="readline _curses _curses_panel _dbm _sqlite3 nis _crypt"
# The CJK codecs and the profiler's C part: the Dockerfile leaves out their Python halves.
unused_modules="$unused_modules _codecs_cn _codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw
  _multibytecodec _lsprof"
# Libraries of the packages above that nothing in the image links or loads: glibc's old NIS library,
# expat's wide-character build, and OpenSSL's engines and legacy provider (loaded only when an OpenSSL
# configuration names them; the image has none). glibc's vector maths (for programs compiled to call it)
# too, where the architecture has it: bookworm's arm64 glibc does not.
unused_libraries="usr/lib/*/libnsl.so.1 usr/lib/*/libexpatw.so.* usr/lib/*/engines-3 usr/lib/*/ossl-modules"
if [ "$(uname -m)" = x86_64 ]; then
  unused_libraries="$unused_libraries usr/lib/*/libmvec.so.1"
fi
# CPython's own test extension modules.
test_modules="_testbuffer _testcapi _testclinic _testimportmultiple _testinternalcapi _testmultiphase
  _ctypes_test _xxtestfuzz xxlimited xxlimited_35"

installed_dependencies() {
  # Depends and Pre-Depends of package $1, each alternative group resolved to its first installed member.
  dpkg-query -W -f '${Pre-Depends},${Depends}\n' "$1" | tr ',' '\n' | while read -r group; do
    [ -n "$group" ] || continue
    echo "$group" | tr '|' '\n' | sed 's/(.*)//; s/:any//; s/ //g' | while read -r candidate; do
      if dpkg-query -W -f '${Status}\n' "$candidate" 2>/dev/null | grep -q ' installed$'; then
        echo "$candidate"
        break
      fi
    done
  done
}

packages=""
queue="$wanted"
while [ -n "$queue" ]; do
  next=""
  for package in $queue; do
    case " $packages $skipped " in *" $package "*) continue ;; esac
    packages="$packages $package"
    next="$next $(installed_dependencies "$package" | tr '\n' ' ')"
  done
  queue="$(echo "$next" | tr ' ' '\n' | sort -u | tr '\n' ' ' | sed 's/^ *//; s/ *$//')"
done

# Debian's merged /usr: /bin, /lib, /lib64 and /sbin are links into /usr, as on the base image.
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/sbin" "$root/var/lib/dpkg/status.d"
for link in bin lib lib64 sbin; do
  ln -s "usr/$link" "$root/$link"
done

list="$(mktemp)"
for package in $packages; do
  dpkg-query -s "$package" >"$root/var/lib/dpkg/status.d/$package"
  # Files and links only (directories come with them). Left out: documentation except the copyright
  # file, manual pages, translations, and glibc's iconv modules (gconv), which Python never loads.
  dpkg-query -L "$package" | while read -r path; do
    if [ -f "$path" ] || [ -L "$path" ]; then echo "${path#/}"; fi
  done | awk '!/^usr\/share\/(doc|man|info|locale|lintian|bug)\// || /^usr\/share\/doc\/[^\/]+\/copyright$/' \
    | grep -Ev '^usr/lib/[^/]+/gconv/' >>"$list" || true
done
tar -C / --no-recursion -cf - -T "$list" | tar -C "$root" --keep-directory-symlink -xf -
rm -f "$list"
for module in $unused_modules $test_modules; do
  rm "$root"/usr/lib/python3.*/lib-dynload/"$module".cpython-*.so
done
rm -r "$root"/usr/lib/python3.*/sqlite3 "$root"/usr/lib/python3.*/curses "$root"/usr/lib/python3.*/crypt.py
for library in $unused_libraries; do
  rm -r "${root:?}"/$library
done
ldconfig -r "$root"
# Every extension module left must load from what was copied (a missing library fails the build here).
chroot "$root" /usr/bin/python3 -c '
import importlib, os, sys, sysconfig
folder = os.path.join(sysconfig.get_paths()["platstdlib"], "lib-dynload")
for name in sorted(os.listdir(folder)):
    importlib.import_module(name.split(".")[0])
'
echo "runtime-rootfs: $(echo "$packages" | wc -w) packages:$packages" >&2
