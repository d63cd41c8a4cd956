#!/usr/bin/env bash
# The Debian packages end to end (issue 15), in two ctest tests:
#   package_test.sh build SOURCE_DIR WORK_DIR
#       scripts/package builds blueprint-host and blueprint-sdk-dev; lintian finds no error in
#       either; the unit passes `systemd-analyze verify` and its exposure is at most 2.0.
#   package_test.sh install SOURCE_DIR WORK_DIR
#       a clean Debian 12 root made by debootstrap; both packages installed with `dpkg -i`
#       (maintainer scripts run); the unit's exact ExecStart line started as the `blueprint` user
#       under MemoryDenyWriteExecute; the README's curl answered; find_package(BlueprintSDK)
#       in the root; examples/out_of_tree_block and a `blueprint new-block` project built
#       against the packaged SDK, the latter packaged with blueprint_package_block(), lint-free,
#       installed with dpkg and picked up by the running host.
# The root is bootstrapped once (network: Debian's mirror) and cached as a tarball in
# /var/cache/blueprint-package-test (BLUEPRINT_PACKAGE_TEST_CACHE), shared by every build tree of the machine; every run unpacks a fresh copy of it, in private mount and network
# namespaces, so the packaged default port 8080 never meets another process.
set -euo pipefail
stage="$1"
src="$(cd "$2" && pwd)"
work="$3"
debs="$src/build/package"
mirror="${BLUEPRINT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

host_deb() { ls "$debs"/blueprint-host_*.deb 2>/dev/null | head -1; }
sdk_deb() { ls "$debs"/blueprint-sdk-dev_*.deb 2>/dev/null | head -1; }

lint() {
  local deb="$1" out
  out="$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)"
  echo "$out" | sed "s|^|  lintian $(basename "$deb"): |"
  if grep -q '^E: ' <<< "$out"; then fail "lintian reports errors for $(basename "$deb")"; fi
}

if [ "$stage" = build ]; then
  step "scripts/package"
  bash "$src/scripts/package" "$debs"
  [ -f "$(host_deb)" ] && [ -f "$(sdk_deb)" ] || fail "scripts/package made no packages in $debs"
  step "contents"
  contents="$(dpkg-deb -c "$(host_deb)")"
  for path in ./usr/bin/blueprint-host ./usr/bin/blueprint ./usr/lib/blueprint/plugins/core_blocks.so \
      ./usr/lib/blueprint/plugins/http_blocks.so ./usr/lib/blueprint/blueprint_storage_postgres.so \
      ./etc/blueprint/host.json ./lib/systemd/system/blueprint-host.service \
      ./usr/share/man/man8/blueprint-host.8.gz ./usr/share/man/man1/blueprint.1.gz; do
    grep -q " $path\$" <<< "$contents" || fail "blueprint-host lacks $path"
  done
  conffiles="$(dpkg-deb -I "$(host_deb)" conffiles)"
  grep -qx /etc/blueprint/host.json <<< "$conffiles" || fail "host.json is no conffile"
  depends="$(dpkg-deb -f "$(host_deb)" Depends)"
  echo "  Depends: $depends"
  for lib in libc6 libstdc++6 libpoco; do
    grep -q "$lib" <<< "$depends" || fail "Depends lacks $lib (dpkg-shlibdeps): $depends"
  done
  sdk_contents="$(dpkg-deb -c "$(sdk_deb)")"
  grep -q ' ./usr/lib/cmake/BlueprintSDK/BlueprintSDKConfig.cmake$' <<< "$sdk_contents" ||
    fail "blueprint-sdk-dev lacks the CMake package"
  grep -q ' ./usr/lib/cmake/BlueprintSDK/BlueprintPackageBlock.cmake$' <<< "$sdk_contents" ||
    fail "blueprint-sdk-dev lacks blueprint_package_block()"
  grep -q ' ./usr/include/blueprint/sdk.hpp$' <<< "$sdk_contents" || fail "blueprint-sdk-dev lacks sdk.hpp"
  step "man pages"
  pages="$work/pages"
  rm -rf "$pages" && mkdir -p "$pages"
  dpkg-deb -x "$(host_deb)" "$pages"
  for page in man8/blueprint-host.8.gz man1/blueprint.1.gz; do
    warnings="$(man --warnings -l "$pages/usr/share/man/$page" 2>&1 >/dev/null)"
    [ -z "$warnings" ] || fail "$page: $warnings"
  done
  rm -rf "$pages"
  step "lintian"
  lint "$(host_deb)"
  lint "$(sdk_deb)"
  step "systemd-analyze"
  unit="$src/packaging/blueprint-host.service"
  exposure="$(systemd-analyze security --offline=true "$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
  echo "  exposure: $exposure"
  [ -n "$exposure" ] || fail "systemd-analyze security printed no exposure"
  awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure is over 2.0"
  echo "PASS: build"
  exit 0
fi

[ "$stage" = install ] || fail "unknown stage $stage (build | install)"
[ -f "$(host_deb)" ] && [ -f "$(sdk_deb)" ] || fail "no packages in $debs (run the build stage first)"
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, dpkg -i)"

# Every package the two .debs depend on goes into the root when it is made, so dpkg -i meets
# satisfied dependencies without a network, and systemd, the init of every Debian 12 system
# (for `systemd-analyze verify` against the root's own units); the cache is keyed on that list.
includes="$( (dpkg-deb -f "$(host_deb)" Depends; echo ,; dpkg-deb -f "$(sdk_deb)" Depends; echo ,systemd) |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -)"
key="$(echo "$includes" | sha256sum | cut -c1-12)"
# A machine-wide cache (like apt's): a fresh clone or build tree on the same machine reuses it.
cache="${BLUEPRINT_PACKAGE_TEST_CACHE:-/var/cache/blueprint-package-test}"
tarball="$cache/debian12-minbase-$key.tar.gz"
mkdir -p "$cache"
if [ ! -f "$tarball" ]; then
  step "debootstrap bookworm (cached as $(basename "$tarball"))"
  rm -rf "$cache/bootstrap"
  mkdir -p "$cache/debs"
  debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$includes" bookworm \
    "$cache/bootstrap" "$mirror" \
    > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; fail "debootstrap failed"; }
  tar -C "$cache/bootstrap" -czf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$cache/bootstrap"
fi

root="$work/root"
rm -rf "$work"
mkdir -p "$root"
step "fresh Debian 12 root from the cache"
tar -C "$root" -xzf "$tarball"
cp "$(host_deb)" "$(sdk_deb)" "$root/tmp/"
cp -r "$src/examples/out_of_tree_block" "$work/out_of_tree_block"
unit_execstart="$(sed -n 's/^ExecStart=//p' "$src/packaging/blueprint-host.service")"
# The curl of the README's "Install as a service" section, exactly (joined at its trailing '\').
readme_curl="$(sed -n '/^## Install as a service/,/^## /p' "$src/README.md" |
  grep -A1 '^    curl -N ' | head -2 | sed 's/\\$//; s/^ *//' | paste -sd' ')"
[ -n "$readme_curl" ] || fail "README's Install as a service section has no curl line"

export root work src unit_execstart readme_curl
# Private mount, network and pid namespaces: the root's mounts, the host's port and its
# processes stay here.
unshare --mount --net --pid --fork --mount-proc bash -euo pipefail -c '
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
ip link set lo up
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
in_root() { chroot "$root" "$@"; }
# The pid of the running blueprint-host (a private pid namespace: only this test'"'"'s processes).
host_process() { for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = blueprint-host ] && echo "${p#/proc/}"; done; }

step "dpkg -i blueprint-host blueprint-sdk-dev"
in_root dpkg -i /tmp/$(basename "$root"/tmp/blueprint-host_*.deb) /tmp/$(basename "$root"/tmp/blueprint-sdk-dev_*.deb)
in_root getent passwd blueprint >/dev/null || fail "postinst made no blueprint user"
[ "$(in_root stat -c "%a %U %G" /var/lib/blueprint)" = "700 blueprint blueprint" ] ||
  fail "/var/lib/blueprint is $(in_root stat -c "%a %U %G" /var/lib/blueprint)"
in_root dpkg-query -W -f="\${Conffiles}\n" blueprint-host | grep -q /etc/blueprint/host.json ||
  fail "host.json is not a registered conffile"
in_root test -L /etc/systemd/system/multi-user.target.wants/blueprint-host.service ||
  fail "postinst did not enable blueprint-host.service"

step "systemd-analyze verify (in the root)"
# --man=no: the root has no man-db; the build stage renders both pages.
systemd-analyze verify --man=no --root="$root" /lib/systemd/system/blueprint-host.service ||
  fail "systemd-analyze verify"

step "find_package(BlueprintSDK) in the root"
mkdir -p "$root/tmp/probe"
printf "%s\n" "cmake_minimum_required(VERSION 3.25)" "project(probe NONE)" \
  "find_package(BlueprintSDK 1.1 REQUIRED)" \
  "if(NOT TARGET Blueprint::sdk OR NOT COMMAND blueprint_add_block OR NOT COMMAND blueprint_package_block)" \
  "  message(FATAL_ERROR \"incomplete BlueprintSDK\")" "endif()" > "$root/tmp/probe/CMakeLists.txt"
# Configure only (the root has no make or compiler; project(probe NONE) needs neither).
in_root cmake -S /tmp/probe -B /tmp/probe/build -DCMAKE_MAKE_PROGRAM=/bin/true > "$work/probe.log" 2>&1 || { cat "$work/probe.log"; fail "find_package(BlueprintSDK)"; }

step "the installed blueprint CLI: its plugins and the PostgreSQL module from /usr/lib/blueprint"
cli_run="$(in_root blueprint run /usr/share/doc/blueprint-host/examples/agents/hello.json --blueprint hello \
  --inputs "{\"name\":\"Ada\"}")" || fail "blueprint run in the root: $cli_run"
grep -q "data: {\"delta\":\"Hello, Ada!\"}" <<< "$cli_run" || fail "blueprint run: $cli_run"
# Nothing listens on port 1: the module loads, then the connection is refused.
pg_run="$(in_root blueprint run /usr/share/doc/blueprint-host/examples/agents/hello.json --blueprint hello \
  --storage postgresql://bp:pw@127.0.0.1:1/bp 2>&1 || true)"
grep -q "blueprint_storage_postgres.so" <<< "$pg_run" && fail "the PostgreSQL module was not found: $pg_run"

step "README: install the example agent; the unit'"'"'s ExecStart as blueprint, under MemoryDenyWriteExecute"
in_root cp /usr/share/doc/blueprint-host/examples/agents/hello.json /etc/blueprint/agents/
# PR_SET_MDWE (65), PR_MDWE_REFUSE_EXEC_GAIN (1): the kernel'"'"'s form of MemoryDenyWriteExecute=yes.
python3 -c "import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit(\"PR_SET_MDWE: \" + os.strerror(ctypes.get_errno()))
os.execv(\"/usr/sbin/chroot\", [\"chroot\", sys.argv[1], \"runuser\", \"-u\", \"blueprint\", \"--\"] + sys.argv[2].split())" \
  "$root" "$unit_execstart" > "$work/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 1 200); do
  curl -sf http://127.0.0.1:8080/readyz > /dev/null && break
  kill -0 $host_pid 2>/dev/null || { cat "$work/host.log"; fail "the host exited"; }
  sleep 0.1
done
curl -sf http://127.0.0.1:8080/readyz > /dev/null || { cat "$work/host.log"; fail "no /readyz within 20 s"; }
[ "$(stat -c %u "/proc/$(host_process)")" = "$(in_root id -u blueprint)" ] || fail "the host does not run as blueprint"
eval "$(grep -m1 -o "export BLUEPRINT_KEY=bp_[0-9a-f]*" "$work/host.log")"
[ -n "${BLUEPRINT_KEY:-}" ] || { cat "$work/host.log"; fail "the first start printed no admin key"; }
step "README: $readme_curl"
answer="$(eval "$readme_curl" 2>/dev/null)"
echo "$answer" | sed "s/^/  /"
grep -q "data: {\"delta\":\"Hello, Ada!\"}" <<< "$answer" || fail "the README curl did not answer Hello, Ada!"
grep -q "data: \[DONE\]" <<< "$answer" || fail "no [DONE]"

step "examples/out_of_tree_block and a new-block project against the packaged SDK"
sdk="$work/sdk"
dpkg-deb -x "$root"/tmp/blueprint-sdk-dev_*.deb "$sdk"
cmake -S "$work/out_of_tree_block" -B "$work/out_of_tree_block/build" -DCMAKE_PREFIX_PATH="$sdk/usr" > "$work/oot.log" 2>&1 &&
  cmake --build "$work/out_of_tree_block/build" >> "$work/oot.log" 2>&1 || { cat "$work/oot.log"; fail "out_of_tree_block"; }
in_root blueprint new-block acme_words --type acme.reverse_words --dir /tmp/acme_words > /dev/null
cp -r "$root/tmp/acme_words" "$work/acme_words"
( cd "$work/acme_words" && cmake -S . -B build -DCMAKE_PREFIX_PATH="$sdk/usr" -DCMAKE_BUILD_TYPE=Release &&
  cmake --build build && cd build && cpack -G DEB ) > "$work/block.log" 2>&1 || { cat "$work/block.log"; fail "block package"; }
block_deb="$(ls "$work"/acme_words/build/blueprint-block-acme-words_*.deb)"
out="$(lintian "$block_deb" 2>&1 || true)"; echo "$out" | sed "s/^/  lintian block: /"
grep -q "^E: " <<< "$out" && fail "lintian errors in the block package"
block_contents="$(dpkg-deb -c "$block_deb")"
grep -q " ./usr/lib/blueprint/plugins/acme_words.so$" <<< "$block_contents" || fail "block .deb path"
cp "$block_deb" "$root/tmp/"
in_root dpkg -i "/tmp/$(basename "$block_deb")"
catalogue=""
for _ in $(seq 1 100); do
  catalogue="$(curl -s -H "Authorization: Bearer $BLUEPRINT_KEY" http://127.0.0.1:8080/v1/blocks)"
  case "$catalogue" in *acme.reverse_words*) break ;; esac
  sleep 0.2
done
case "$catalogue" in *acme.reverse_words*) ;; *) cat "$work/host.log"; fail "the watching host did not load the packaged block" ;; esac

step "SIGTERM (systemctl stop)"
kill -TERM "$(host_process)"
wait $host_pid || fail "the host did not exit 0 on SIGTERM"
'
rm -rf "$work"
echo "PASS: install"
