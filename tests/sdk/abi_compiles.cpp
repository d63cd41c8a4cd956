// SPDX-License-Identifier: Apache-2.0
// The ABI header and the SDK must compile as C++17 and C++20 (see tests/CMakeLists.txt), and
// the ABI's first members must keep their offsets: the version rule depends on them.
#include <blueprint/block_abi.h>
#include <blueprint/sdk.hpp>

#include <cstddef>

static_assert(offsetof(bp_plugin, struct_size) == 0, "struct_size leads bp_plugin");
static_assert(offsetof(bp_plugin, abi_major) == 4, "abi_major is the second member");
static_assert(offsetof(bp_plugin, abi_minor) == 8, "abi_minor is the third member");
static_assert(offsetof(bp_host_api, struct_size) == 0, "struct_size leads bp_host_api");
static_assert(offsetof(bp_run_args, struct_size) == 0, "struct_size leads bp_run_args");
static_assert(offsetof(bp_block_vtable, struct_size) == 0, "struct_size leads bp_block_vtable");

int blueprint_abi_compiles_as_cpp() { return BP_ABI_MAJOR; }
