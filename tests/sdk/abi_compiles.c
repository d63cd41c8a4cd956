/* SPDX-License-Identifier: Apache-2.0 */
/* The ABI header must compile as strict C (built as C99 and C11 by tests/CMakeLists.txt). */
#include <blueprint/block_abi.h>

static int32_t run(void *instance, const bp_run_args *args) {
  (void)instance;
  args->output.write(args->output.ctx, "1", 1);
  return BP_STATUS_OK;
}

static const bp_block_vtable k_block = {sizeof(bp_block_vtable), "c.block", 0, run, 0};
static const bp_block_vtable *const k_blocks[] = {&k_block};

int blueprint_abi_compiles_as_c(void) {
  bp_plugin plugin = {sizeof(bp_plugin), BP_ABI_MAJOR, BP_ABI_MINOR, "c.test", "1.0.0", "{}", 2,
                      0, 0, 1, k_blocks, 0};
  return (int)plugin.block_count;
}
