/* SPDX-License-Identifier: Apache-2.0 */
/* The ABI header must compile as strict C (built as C99 and C11 by tests/CMakeLists.txt). */
#include <blueprint/block_abi.h>

static int32_t run(void *instance, const bp_run_args *args) {
  (void)instance;
  args->output.write(args->output.ctx, "1", 1);
  return BP_STATUS_OK;
}

/* ABI 1.3: a block that defers and completes from a timer. */
static void fire(void *user) {
  bp_pending *pending = (bp_pending *)user;
  pending->complete(pending->ctx, BP_STATUS_OK, "null", 4, 0, 0, 0, 0);
}

static int32_t run_later(void *instance, const bp_run_args *args) {
  bp_pending *pending;
  (void)instance;
  if (args->host->struct_size < offsetof(bp_host_api, defer) + sizeof(args->host->defer))
    return BP_STATUS_ERROR;
  pending = args->host->defer(args->host->ctx, 0, 0);
  if (pending == 0) return BP_STATUS_ERROR;
  if (pending->after(pending->ctx, 10, fire, pending) != BP_STATUS_OK) return BP_STATUS_ERROR;
  return BP_STATUS_PENDING;
}

static const bp_block_vtable k_block = {sizeof(bp_block_vtable), "c.block", 0, run, 0};
static const bp_block_vtable k_later = {sizeof(bp_block_vtable), "c.later", 0, run_later, 0};
static const bp_block_vtable *const k_blocks[] = {&k_block, &k_later};

int blueprint_abi_compiles_as_c(void) {
  bp_plugin plugin = {sizeof(bp_plugin), BP_ABI_MAJOR, BP_ABI_MINOR, "c.test", "1.0.0", "{}", 2,
                      0, 0, 2, k_blocks, 0};
  return (int)plugin.block_count;
}
