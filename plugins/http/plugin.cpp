// SPDX-License-Identifier: Apache-2.0
// http_blocks.so: the whole catalogue of this library on one line (OBS-style module file), plus
// the library-wide hooks that set OpenSSL up once per load and tear it down before unload.
#include <exception>
#include <string>

#include "http_blocks.hpp"

namespace {

bp_status initHttpPlugin(bp_sink* error) noexcept {
  try {
    blueprint::http::initTls();
    return BP_STATUS_OK;
  } catch (const std::exception& e) {
    const std::string message = std::string("cannot initialise TLS: ") + e.what();
    if (error != nullptr && error->write != nullptr)
      error->write(error->ctx, message.data(), message.size());
  } catch (...) {
  }
  return BP_STATUS_ERROR;
}

void deinitHttpPlugin() noexcept {
  try {
    blueprint::http::deinitTls();
  } catch (...) {
  }
}

}  // namespace

BLUEPRINT_PLUGIN_WITH_HOOKS("dev.blueprint.http", "1.0.0", initHttpPlugin, deinitHttpPlugin,
                            blueprint::http::HttpRequest)
