#!/usr/bin/env bash
# The SDK-only route of sdk/README.md (BLUEPRINT_SDK_ONLY=ON): its default build holds the
# `blueprint` CLI and the first-party plugins but neither the server nor the tests, and its
# install rules put the SDK, the CLI and the plugins (no server) under any prefix.
# Usage: sdk_only_test.sh SOURCE_DIR WORK_DIR   (configures only; builds nothing)
set -euo pipefail
src="$1"
work="$2"
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work"
cmake -S "$src" -B "$work/build" -G Ninja -DBLUEPRINT_SDK_ONLY=ON -DCMAKE_INSTALL_PREFIX="$work/prefix" \
  > "$work.configure.log" 2>&1 || { cat "$work.configure.log"; fail "configure"; }
# What the default build makes: the inputs of each directory's `all` (ninja's own graph; a dry
# run would stop at the re-check of the console's globbed assets).
inputs_of() { ninja -C "$work/build" -t query "$1" | sed -n '/input: phony/,/outputs:/p' |
  sed '1d;$d; s/^ *//'; }
links="$(for dir in $(inputs_of all); do inputs_of "$dir"; done)"
for wanted in host/blueprint plugins/core_blocks.so plugins/http_blocks.so; do
  echo "$links" | grep -qx "$wanted" || fail "the SDK-only build does not build $wanted: $links"
done
for unwanted in host/blueprint-host host/blueprint_storage_postgres.so tests/service_test; do
  echo "$links" | grep -qx "$unwanted" && fail "the SDK-only build builds $unwanted"
done
grep -q "BLUEPRINT_BUILD_TESTS:BOOL=OFF" "$work/build/CMakeCache.txt" || fail "tests are on"
install_rules="$(cat "$work/build/cmake_install.cmake" "$work/build"/*/cmake_install.cmake)"
echo "$install_rules" | grep -q 'blueprint-host"' && fail "the SDK-only install has the server"
echo "$install_rules" | grep -q 'BlueprintSDKConfig.cmake' || fail "the SDK-only install lacks the SDK"
# The sdk component needs no build: headers and the CMake package go straight to the prefix.
cmake --install "$work/build" --component sdk > /dev/null
[ -f "$work/prefix/lib/cmake/BlueprintSDK/BlueprintPackageBlock.cmake" ] || fail "no BlueprintPackageBlock.cmake"
[ -f "$work/prefix/include/blueprint/sdk.hpp" ] || fail "no sdk.hpp"
rm -rf "$work" "$work.configure.log"
echo "PASS: sdk-only route"
