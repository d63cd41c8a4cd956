# SPDX-License-Identifier: Apache-2.0
# Build step (cmake -P): writes OUTPUT, a C++ file defining blueprint::host::consoleAssets(): every
# file under DIR (the web console, host/console/) as bytes, with its path relative to DIR and the
# SHA-256 of its content (the ETag). This script and its CMakeLists entry are not served.
# Fails the build when the assets are larger than MAX_BYTES uncompressed (a budget guard; the
# issue's limit is on the gzip size, which the browser test measures).
file(GLOB_RECURSE files RELATIVE "${DIR}" "${DIR}/*")
list(REMOVE_ITEM files embed_console.cmake)
list(SORT files)
set(entries "")
set(arrays "")
set(total 0)
set(index 0)
foreach(rel IN LISTS files)
  file(READ "${DIR}/${rel}" hex HEX)
  file(SHA256 "${DIR}/${rel}" digest)
  file(SIZE "${DIR}/${rel}" size)
  math(EXPR total "${total} + ${size}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char kAsset${index}[] = {${bytes}0x00};\n")
  string(SUBSTRING "${digest}" 0 32 etag)
  string(APPEND entries "    {\"${rel}\", {reinterpret_cast<const char*>(kAsset${index}), ${size}}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR index "${index} + 1")
endforeach()
if(total GREATER MAX_BYTES)
  message(FATAL_ERROR "the console's assets are ${total} bytes, over the ${MAX_BYTES}-byte budget")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from host/console/ by host/console/embed_console.cmake; do not edit.
#include \"http/console_assets.hpp\"

namespace blueprint::host {

namespace {
${arrays}
const EmbeddedAsset kAssets[] = {
${entries}};
}  // namespace

std::pair<const EmbeddedAsset*, std::size_t> consoleAssets() {
  return {kAssets, sizeof(kAssets) / sizeof(kAssets[0])};
}

}  // namespace blueprint::host
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
