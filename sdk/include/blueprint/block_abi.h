/* SPDX-License-Identifier: Apache-2.0 */
/** block_abi.h: the whole contract between the Blueprint host and a block plugin, in C99.
 *
 *  A plugin is a shared library that exports exactly one symbol, `bp_plugin_v1`, returning a
 *  `bp_plugin` that lists its block types. Everything crosses as plain C: JSON travels as UTF-8
 *  text (pointer + length), output goes into host-owned sinks, results are `bp_status` codes.
 *  No C++ type, exception or allocation crosses the boundary. The one exception is an opt-in
 *  extension, BP_EXT_NATIVE_JSON (its own section at the end of this file): only a plugin that
 *  sets `bp_plugin.native_json`, and only when the host finds the same JSON library layout on
 *  both sides, is ever handed a C++ object. A plugin that leaves it NULL (every C plugin) sees
 *  the plain C contract alone; its extension members are NULL.
 *
 *  Versioning: `abi_major` must equal the host's; `abi_minor` must be <= the host's. Structs only
 *  grow at the end, and a reader touches a member only when `struct_size` covers it, so a plugin
 *  built for minor 0 keeps loading into a host of minor 3 without a rebuild. The first three
 *  members of bp_plugin (`struct_size`, `abi_major`, `abi_minor`) and the leading `struct_size`
 *  of every other struct are frozen for every major: the static assertions below pin them.
 *
 *  Lifecycle, as the host drives it:
 *    bp_plugin_v1() -> init() -> { create() -> run()* -> destroy() }* -> deinit() -> dlclose
 *
 *  Threads, as the host calls (each member's THREADING note says the same):
 *  - bp_plugin_v1() and init(): on the thread that loads the library (the host's start-up thread,
 *    its plugin-directory watcher, its signal thread on SIGHUP, or the HTTP thread serving
 *    POST /v1/plugins/reload). Loads are serialised host-wide: no two inits run at once, and
 *    init() returns before any other call into that copy of the library.
 *  - create(): on whichever host thread compiles a blueprint using the type (deploy, a test run,
 *    the first trigger after a plugin reload, the reloading thread recompiling deployed agents).
 *    Several create() calls, also for the same type, may run at once, and alongside run() and
 *    destroy() of other instances.
 *  - run(): on the host's run workers (a fixed pool) when the manifest declares the type
 *    `instant` or `async`, else on its bounded blocking pool; also on a thread that runs a
 *    nested branch (run_branch, run_blueprint). Concurrently, also on one instance.
 *  - A pending call's callbacks (SINCE: 1.3, see bp_pending): on_cancel and the timers of
 *    bp_pending.after() on host threads (the timer service, a run worker, or the thread that
 *    cancels the run), never after the call's complete() returned.
 *  - destroy(): exactly once per instance, on whichever host thread drops the last reference to
 *    the compiled blueprint, after every run() on that instance has returned.
 *  - deinit(): on whichever host thread drops the last reference to the loaded library (the
 *    reloading thread, or the one that ends its last run), after every instance is destroyed;
 *    no other call into that copy runs at the same time. It is often not init()'s thread.
 *  Each load is a private copy (DESIGN §5): two generations of one plugin have separate globals
 *  and may run side by side. `--probe-plugins` also loads every new build once in a child
 *  process first (bp_plugin_v1, init, deinit there, on its main thread).
 *
 *  Minimal use (C):
 *    static int32_t my_run(void *inst, const bp_run_args *a) {
 *      a->output.write(a->output.ctx, "\"hi\"", 4);
 *      return BP_STATUS_OK;
 *    }
 *    static const bp_block_vtable k_hello = {sizeof(bp_block_vtable), "acme.hello", 0, my_run, 0};
 *    static const bp_block_vtable *k_blocks[] = {&k_hello};
 *    static const bp_plugin k_plugin = {sizeof(bp_plugin), BP_ABI_MAJOR, BP_ABI_MINOR,
 *      "com.acme.hello", "1.0.0", MANIFEST, sizeof(MANIFEST) - 1, 0, 0, 1, k_blocks, 0};
 *    BP_EXPORT const bp_plugin *bp_plugin_v1(void) { return &k_plugin; }
 *
 *  C++ authors use sdk.hpp instead, which generates all of this. */
#ifndef BLUEPRINT_BLOCK_ABI_H
#define BLUEPRINT_BLOCK_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BP_EXPORT __attribute__((visibility("default")))
#else
#define BP_EXPORT
#endif

/** bp_status: the result of every call that can fail. Never an exception. */
enum {
  /** The call succeeded. For run(): the block ends in `success` unless it wrote an end state. */
  BP_STATUS_OK = 0,
  /** The call failed; the error sink says why. For run(): the block ends in `error` unless it
   *  wrote another end state. */
  BP_STATUS_ERROR = 1,
  /** The run was cancelled (timeout, a Return Value elsewhere, or a client's cancel). */
  BP_STATUS_CANCELLED = 2,
  /** A looked-up value does not exist (state_get, env_get). */
  BP_STATUS_NOT_FOUND = 3,
  /** For run() only, after a successful bp_host_api.defer(): the call completes later through
   *  bp_pending.complete(). Any other use is an error. SINCE: 1.3 */
  BP_STATUS_PENDING = 4
};
typedef int32_t bp_status;

/** bp_log_level: severity for bp_host_api.log. */
enum { BP_LOG_DEBUG = 0, BP_LOG_INFO = 1, BP_LOG_WARNING = 2, BP_LOG_ERROR = 3 };

/** bp_sink: where a block writes output JSON, error text or an end state name.
 *  Several writes append. OWNERSHIP: host. LIFETIME: until the call it was passed to returns.
 *  THREADING: the calling thread only. */
typedef struct bp_sink {
  /** Host context; pass back to write(). */
  void *ctx;
  /** Appends `size` bytes of UTF-8 text. */
  void (*write)(void *ctx, const char *data, size_t size);
} bp_sink;

typedef struct bp_pending bp_pending;

/** bp_host_api: services the host offers to a running block.
 *  OWNERSHIP: host. LIFETIME: until run() returns. THREADING: callable from the thread that called
 *  run(), and from threads the block joins before run() returns. A block that must go on working
 *  after run() returned uses the bp_pending it got from defer() instead (SINCE: 1.3). */
typedef struct bp_host_api {
  /** sizeof(bp_host_api) as the host compiled it; check before reading newer members. */
  uint32_t struct_size;
  /** Host context for this block execution; pass it to every function below. */
  void *ctx;
  /** Streams a piece of output to the caller right away (an SSE `{"delta": text}` event).
   *  `text` is UTF-8 text, not JSON. */
  void (*emit_delta)(void *ctx, const char *text, size_t size);
  /** Writes a line to the run trace and to the host log (logger `blueprint.blocks`, with the
   *  run's job id, agent, blueprint and block as fields; a debug line only when the host logs
   *  at debug level). `level` is a bp_log_level; invalid UTF-8 is replaced with U+FFFD. */
  void (*log)(void *ctx, int32_t level, const char *message, size_t size);
  /** Returns non-zero once the run is cancelled; long-running blocks poll it and stop. */
  int32_t (*is_cancelled)(void *ctx);
  /** Sleeps up to `ms` milliseconds; returns BP_STATUS_CANCELLED early if the run is cancelled
   *  or reaches its timeout, else BP_STATUS_OK. It holds the calling thread meanwhile: a block
   *  that waits without a thread uses defer() and bp_pending.after() instead (SINCE: 1.3). */
  bp_status (*sleep_ms)(void *ctx, uint64_t ms);
  /** Reads a dot path of the run environment (`payload`, `result.items.0`, `state.order`, ...)
   *  as JSON text into `out`. BP_STATUS_NOT_FOUND when the path does not resolve. */
  bp_status (*env_get)(void *ctx, const char *path, size_t path_size, bp_sink *out);
  /** Reads run-scoped state at a dot path as JSON into `out` (BP_STATUS_NOT_FOUND if absent). */
  bp_status (*state_get)(void *ctx, const char *path, size_t path_size, bp_sink *out);
  /** Sets run-scoped state at a dot path (missing parents are created) to the JSON `value`.
   *  BP_STATUS_ERROR with a message in `error` for an empty path or JSON that does not parse. */
  bp_status (*state_set)(void *ctx, const char *path, size_t path_size, const char *value_json,
                         size_t value_size, bp_sink *error);
  /** Runs the blocks behind this block's end state `end_state` once, as a branch (a loop body),
   *  with `scope_json` (a JSON object, e.g. {"item":…,"itemId":…}) added to their environment.
   *  Writes the branch's Return Value as JSON (or `null`) into `out`. */
  bp_status (*run_branch)(void *ctx, const char *end_state, size_t end_state_size,
                          const char *scope_json, size_t scope_size, bp_sink *out,
                          bp_sink *error);
  /** Runs another blueprint of the same agent version with `payload_json` as its payload and
   *  shared state; writes its Return Value as JSON (or `null`) into `out`. */
  bp_status (*run_blueprint)(void *ctx, const char *blueprint_id, size_t blueprint_id_size,
                             const char *payload_json, size_t payload_size, bp_sink *out,
                             bp_sink *error);
  /** Reads `key` of the agent's persistent key-value store as JSON into `out`
   *  (BP_STATUS_NOT_FOUND if absent). Entries survive runs and restarts. SINCE: 1.1 */
  bp_status (*kv_get)(void *ctx, const char *key, size_t key_size, bp_sink *out);
  /** Stores the JSON `value` under `key` in the agent's key-value store. SINCE: 1.1 */
  bp_status (*kv_set)(void *ctx, const char *key, size_t key_size, const char *value_json,
                      size_t value_size, bp_sink *error);
  /** Deletes `key`; BP_STATUS_NOT_FOUND if it did not exist. SINCE: 1.1 */
  bp_status (*kv_delete)(void *ctx, const char *key, size_t key_size, bp_sink *error);
  /** Reads the operator's setting `name` for this block type (host config
   *  `block_settings.<type>.<name>`) as JSON into `out`; BP_STATUS_NOT_FOUND if unset.
   *  SINCE: 1.1 */
  bp_status (*setting_get)(void *ctx, const char *name, size_t name_size, bp_sink *out);
  /** EXTENSION BP_EXT_NATIVE_JSON: like state_set, with the value as a native JSON object
   *  (`nlohmann::json *`) that the host moves from instead of parsing text. NULL unless the
   *  extension is on for this plugin (see the section at the end of this file). SINCE: 1.2 */
  bp_status (*state_set_native)(void *ctx, const char *path, size_t path_size, void *value,
                                bp_sink *error);
  /** EXTENSION BP_EXT_NATIVE_JSON: like env_get, copying the value into the native JSON object
   *  `out` (`nlohmann::json *`) instead of writing text. NULL unless the extension is on for
   *  this plugin. SINCE: 1.2 */
  bp_status (*env_get_native)(void *ctx, const char *path, size_t path_size, void *out);
  /** Turns this call into a pending one: the block's result comes later, from any thread,
   *  through the returned bp_pending's complete(), and the block holds no host thread while it
   *  waits. After a successful defer, run() must return BP_STATUS_PENDING (whatever it wrote to
   *  the sinks of bp_run_args is ignored); if it returns anything else the host logs an error
   *  naming the block and waits for complete() all the same.
   *  `on_cancel` (may be NULL) is called at most once, with `user`, when the run is cancelled,
   *  reaches its timeout, or a Return Value elsewhere ends it while the call is pending; see
   *  bp_pending for when exactly. `user` is the plugin's and must stay valid until complete()
   *  returned.
   *  Returns NULL when the call cannot be deferred (defer already called for this call); the
   *  block then goes on synchronously. A 1.3 host always sets this member.
   *  THREADING: the thread running run(), before run() returns; at most once per call.
   *  SINCE: 1.3 */
  bp_pending *(*defer)(void *ctx, void (*on_cancel)(void *user), void *user);
} bp_host_api;

/** bp_pending: a block call that completes later (ABI 1.3). Returned by bp_host_api.defer().
 *  OWNERSHIP: host. LIFETIME: from defer() until its complete() returns; the host keeps the
 *  run, the compiled blueprint and the plugin's loaded library alive that long (a hot-swapped
 *  generation stays loaded until its last pending call completed), even when the run itself
 *  already ended.
 *  THREADING: every member is callable from any thread, concurrently, until complete() returned.
 *
 *  Cancellation: when the run is cancelled (a client's cancel, its timeout, or a Return Value
 *  elsewhere ending it) while the call is pending, the host calls defer()'s `on_cancel` once, on
 *  a host thread (the thread that cancels the run or the timer service; never inside a call the
 *  block makes into the host). It may call complete() itself. It is never called after
 *  complete() returned, and complete() called on another thread meanwhile does not return
 *  before on_cancel returned. The block must still complete after on_cancel (typically with
 *  BP_STATUS_CANCELLED), soon: the run does not wait for it for ever. A cancelled run ends
 *  `cancelled` without waiting for its pending calls; each stays valid (with everything it
 *  references) until its complete(), which then changes nothing in the finished run. */
struct bp_pending {
  /** sizeof(bp_pending) as the host compiled it; check before reading newer members. */
  uint32_t struct_size;
  /** Host context for this pending call; pass it to every function below. */
  void *ctx;
  /** Completes the call exactly once, from any thread, also from inside run() before it
   *  returned, on_cancel, or a timer. `status` and the three texts mean what they mean for a
   *  synchronous run(): BP_STATUS_OK or BP_STATUS_ERROR (BP_STATUS_CANCELLED when it stopped
   *  because the run was cancelled); `output_json` is the result as JSON text (size 0 = null),
   *  `end_state` optional (size 0 = success/error by status), `error` the message for
   *  BP_STATUS_ERROR. The host copies what it needs before returning. A second complete() is
   *  ignored and logged. After it returns the handle is gone: touch nothing of it again.
   *  Blocks while on_cancel or a timer callback of this call runs on another thread. */
  void (*complete)(void *ctx, bp_status status, const char *output_json, size_t output_size,
                   const char *end_state, size_t end_state_size, const char *error,
                   size_t error_size);
  /** The timer service: calls `fire(user)` once, on a host thread, after `ms` milliseconds,
   *  unless complete() came first; no fire starts after complete() returned, and complete() on
   *  another thread waits for a fire that already started. Timers do not hold a thread. Several
   *  may be armed at once. `fire` may call complete() and after(). Returns BP_STATUS_OK, or
   *  BP_STATUS_ERROR when the call already completed (`fire` is then never called). */
  bp_status (*after)(void *ctx, uint64_t ms, void (*fire)(void *user), void *user);
  /** Like bp_host_api.emit_delta, while the call is pending. */
  void (*emit_delta)(void *ctx, const char *text, size_t size);
  /** Like bp_host_api.log, while the call is pending. */
  void (*log)(void *ctx, int32_t level, const char *message, size_t size);
  /** Like bp_host_api.is_cancelled: non-zero once the run is cancelled or timed out. */
  int32_t (*is_cancelled)(void *ctx);
  /** EXTENSION BP_EXT_NATIVE_JSON: like complete(), with the result as a native JSON object
   *  (`nlohmann::json *`, moved from; NULL = null) instead of text. NULL unless the extension is
   *  on for this plugin (see the section at the end of this file). */
  void (*complete_native)(void *ctx, bp_status status, void *output_native,
                          const char *end_state, size_t end_state_size, const char *error,
                          size_t error_size);
};

/** bp_run_args: everything one block execution gets.
 *  OWNERSHIP: host. LIFETIME: until run() returns. THREADING: the calling thread. */
typedef struct bp_run_args {
  /** sizeof(bp_run_args) as the host compiled it. */
  uint32_t struct_size;
  /** The block's fields as a JSON object, templates already rendered, defaults applied. */
  const char *fields_json;
  size_t fields_size;
  /** Host services for this execution. */
  const bp_host_api *host;
  /** The block's result as JSON text (what the next block sees as @{result}). Empty = null. */
  bp_sink output;
  /** The error message when returning BP_STATUS_ERROR. */
  bp_sink error;
  /** Optional: the end state to take, overriding success/error (e.g. `true`, `loop`). */
  bp_sink end_state;
  /** EXTENSION BP_EXT_NATIVE_JSON, SINCE: 1.2. NULL unless the extension is on for this
   *  plugin (see the section at the end of this file), and then the text members above are
   *  used. When it is on, `fields_native` is the fields object as a host-owned
   *  `const nlohmann::json *` and `fields_json` is NULL with `fields_size` 0; `output_native` is
   *  a host-owned `nlohmann::json *` (null) the block may move its result into instead of
   *  writing `output` (text written to `output` wins). OWNERSHIP: host. LIFETIME: until run()
   *  returns. */
  const void *fields_native;
  void *output_native;
} bp_run_args;

/** bp_block_vtable: one block type. OWNERSHIP: plugin (static storage). LIFETIME: from
 *  bp_plugin_v1() until the library is unloaded. THREADING: any host thread, see each member;
 *  run() may be called on many threads at once, on the same instance too; create/destroy are
 *  never concurrent for one instance, and destroy() never overlaps a run() of its instance. */
typedef struct bp_block_vtable {
  /** sizeof(bp_block_vtable) as the plugin compiled it. */
  uint32_t struct_size;
  /** The block type id as in the manifest (`return_value`, `acme.uppercase`). */
  const char *type;
  /** Creates an instance for one blueprint block; may be NULL (run gets instance NULL).
   *  `config_json` is the block's unrendered fields. Returns NULL and writes `error` to refuse.
   *  THREADING: the host thread compiling the blueprint (deploy, test run, first trigger after a
   *  reload, the reloading thread); concurrent with other create/run/destroy calls. */
  void *(*create)(const char *config_json, size_t config_size, bp_sink *error);
  /** Runs the block once. Returns a bp_status; must not throw or longjmp. SINCE: 1.3 it may
   *  defer (bp_host_api.defer) and return BP_STATUS_PENDING; destroy() then waits until the
   *  pending call completed too.
   *  THREADING: the host's run workers for types the manifest declares `instant` or `async`,
   *  else its bounded blocking pool, or a thread driving a nested branch; concurrently, also on
   *  one instance. */
  bp_status (*run)(void *instance, const bp_run_args *args);
  /** Destroys an instance from create(); may be NULL. THREADING: whichever host thread drops
   *  the last reference to the compiled blueprint, once every run() on the instance returned. */
  void (*destroy)(void *instance);
} bp_block_vtable;

/** bp_plugin: what bp_plugin_v1() returns. OWNERSHIP: plugin (static storage).
 *  LIFETIME: until the library is unloaded. THREADING: read-only after bp_plugin_v1(). */
typedef struct bp_plugin {
  /** sizeof(bp_plugin) as the plugin compiled it. */
  uint32_t struct_size;
  /** BP_ABI_MAJOR the plugin was built with; must equal the host's. */
  uint32_t abi_major;
  /** BP_ABI_MINOR the plugin was built with; must be <= the host's. */
  uint32_t abi_minor;
  /** Reverse-DNS plugin id (`com.acme.text`) and its version (`1.2.0`). */
  const char *id;
  const char *version;
  /** The manifest: {"blocks":[{"type","name","description","fields":[…],"end_states":[…],
   *  "role"?, "instant"?, "async"?}]} as UTF-8 JSON. `instant: true`: run() never waits (it
   *  returns within microseconds). `async: true` (SINCE: 1.3): run() never blocks its thread,
   *  it returns soon or defers. Types with either run on the host's fixed worker pool; others
   *  may block and run on its bounded blocking pool, so they never stall the workers. */
  const char *manifest_json;
  size_t manifest_size;
  /** Called once after load, before any create(); may be NULL. Non-OK refuses the load (then
   *  deinit is not called). THREADING: the thread that loads the library; loads are serialised
   *  host-wide, so it never overlaps another init. */
  bp_status (*init)(bp_sink *error);
  /** Called once before unload, after every instance is destroyed; may be NULL. Must join
   *  every thread the plugin started. THREADING: whichever host thread drops the last reference
   *  to this load (often not init's thread); nothing else calls into the library meanwhile. */
  void (*deinit)(void);
  /** The block types, `block_count` pointers to vtables. */
  uint32_t block_count;
  const bp_block_vtable *const *blocks;
  /** EXTENSION BP_EXT_NATIVE_JSON: the opt-in. NULL (every C plugin, and an SDK plugin built
   *  with BLUEPRINT_SDK_NATIVE_JSON=0) keeps the plain C contract. Else the plugin's JSON layout
   *  tag (sdk.hpp fills it from blueprint/native_json.hpp); the host turns the extension on for
   *  this plugin only when the tag equals its own byte for byte. SINCE: 1.2 */
  const char *native_json;
} bp_plugin;

/** bp_plugin_entry_fn: the type of the one exported symbol, `bp_plugin_v1`. */
typedef const bp_plugin *(*bp_plugin_entry_fn)(void);

/** The name of the one symbol a plugin exports. */
#define BP_PLUGIN_ENTRY_SYMBOL "bp_plugin_v1"

/* ---- The frozen prefix -----------------------------------------------------------------------
 * A host reads `struct_size`, `abi_major` and `abi_minor` of any plugin, of any version, before
 * it knows anything else about it; a plugin reads `struct_size` of host structs the same way.
 * Their offsets and sizes never change. C11 and C++ check them with static assertions; C99 has
 * none, so there an array of negative size fails the build instead. */
#if defined(__cplusplus)
#define BP_STATIC_ASSERT(condition, name) static_assert(condition, #name)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define BP_STATIC_ASSERT(condition, name) _Static_assert(condition, #name)
#else
#define BP_STATIC_ASSERT(condition, name) typedef char bp_static_assert_##name[(condition) ? 1 : -1]
#endif
#if defined(__cplusplus)
#define BP_MEMBER_SIZE(type, member) sizeof(type::member)
#else
#define BP_MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#endif

BP_STATIC_ASSERT(offsetof(bp_plugin, struct_size) == 0 &&
                     BP_MEMBER_SIZE(bp_plugin, struct_size) == 4,
                 bp_plugin_struct_size_is_frozen_at_offset_0);
BP_STATIC_ASSERT(offsetof(bp_plugin, abi_major) == 4 && BP_MEMBER_SIZE(bp_plugin, abi_major) == 4,
                 bp_plugin_abi_major_is_frozen_at_offset_4);
BP_STATIC_ASSERT(offsetof(bp_plugin, abi_minor) == 8 && BP_MEMBER_SIZE(bp_plugin, abi_minor) == 4,
                 bp_plugin_abi_minor_is_frozen_at_offset_8);
BP_STATIC_ASSERT(offsetof(bp_host_api, struct_size) == 0 &&
                     BP_MEMBER_SIZE(bp_host_api, struct_size) == 4,
                 bp_host_api_struct_size_is_frozen_at_offset_0);
BP_STATIC_ASSERT(offsetof(bp_run_args, struct_size) == 0 &&
                     BP_MEMBER_SIZE(bp_run_args, struct_size) == 4,
                 bp_run_args_struct_size_is_frozen_at_offset_0);
BP_STATIC_ASSERT(offsetof(bp_pending, struct_size) == 0 &&
                     BP_MEMBER_SIZE(bp_pending, struct_size) == 4,
                 bp_pending_struct_size_is_frozen_at_offset_0);
BP_STATIC_ASSERT(offsetof(bp_block_vtable, struct_size) == 0 &&
                     BP_MEMBER_SIZE(bp_block_vtable, struct_size) == 4,
                 bp_block_vtable_struct_size_is_frozen_at_offset_0);

/* ---- EXTENSION BP_EXT_NATIVE_JSON (SINCE: 1.2): C++ JSON objects instead of JSON text ---------
 * Opt-in, for plugins written in C++ over nlohmann/json (sdk.hpp opts in unless built with
 * BLUEPRINT_SDK_NATIVE_JSON=0). It saves a serialise and a parse per value
 * (docs/decisions/008-native-json-fast-path.md).
 *
 * Its members: bp_plugin.native_json (the opt-in), bp_run_args.fields_native and output_native,
 * bp_host_api.state_set_native and env_get_native, and (SINCE: 1.3) bp_pending.complete_native. They hold `nlohmann::json` pointers typed as
 * void pointers; a plugin that did not opt in finds them all NULL and reads none of them.
 *
 * Conditions. Passing a C++ object is safe only when both sides lay it out, and free it, alike:
 *  1. The same nlohmann/json release and layout options, and the same `nlohmann::json`
 *     specialisation (containers, allocator), compiled against the same C++ standard library
 *     with the same dual ABI and debug-mode setting.
 *  2. One allocator: both sides allocate through the process's global operator new/delete (the
 *     host frees values the plugin moved in, and the other way round). A plugin must not replace
 *     them privately.
 *  3. Exceptions stay on their side, as everywhere in this ABI.
 * Checked how: the plugin puts its layout tag in bp_plugin.native_json; the host computes its own
 * from its own headers and turns the extension on for that plugin only when the two strings are
 * equal byte for byte. The tag (blueprint/native_json.hpp) holds the mangled name of
 * `nlohmann::json` (its inline ABI namespace encodes the release and layout options; the
 * template arguments name the containers and allocator), its size and alignment,
 * sizeof(std::string), the standard library with its version and dual-ABI macro, and whether
 * debug-mode containers are on. Condition 2 is not in the tag: it holds for every plugin built
 * with blueprint_add_block() (shared libstdc++, no allocator of its own). Any difference keeps
 * the plain text path, which is always correct, only slower. */

/** BP_EXT_NATIVE_JSON: the extension's name, as docs and logs spell it. The extension is ABI 1.2;
 *  this macro, like BP_STATIC_ASSERT and BP_MEMBER_SIZE, is in the header SINCE: SDK 1.2.1. */
#define BP_EXT_NATIVE_JSON "native_json"

#ifdef __cplusplus
}
#endif

#endif /* BLUEPRINT_BLOCK_ABI_H */
