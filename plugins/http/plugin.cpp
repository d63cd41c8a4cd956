// SPDX-License-Identifier: Apache-2.0
// http_blocks.so: the whole catalogue of this library on one line (OBS-style module file), plus
// the library-wide hooks that set libcurl up once per load (and its client's loop thread) and
// tear them down before unload.
#include <curl/curl.h>
#include <dlfcn.h>

#include <exception>
#include <string>

#include "http_blocks.hpp"

namespace {

void writeError(bp_sink* error, const std::string& message) {
  if (error != nullptr && error->write != nullptr)
    error->write(error->ctx, message.data(), message.size());
}

/// Keeps libcurl mapped for the life of the process, whatever happens to this plugin: a request
/// cancelled while its host name resolves leaves libcurl's resolver thread to finish on its own
/// (CURLOPT_QUICK_EXIT, so the loop never waits for a slow DNS server), and that thread must
/// not outlive the code it runs when the plugin is unloaded.
void pinLibcurl() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&curl_easy_init), &info) != 0 && info.dli_fname != nullptr)
    ::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

bp_status initHttpPlugin(bp_sink* error) noexcept {
  try {
    pinLibcurl();
    if (const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      writeError(error, std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
      return BP_STATUS_ERROR;
    }
    blueprint::http::initHttpClient();
    return BP_STATUS_OK;
  } catch (const std::exception& e) {
    curl_global_cleanup();
    writeError(error, std::string("cannot start the HTTP client: ") + e.what());
  } catch (...) {
  }
  return BP_STATUS_ERROR;
}

void deinitHttpPlugin() noexcept {
  try {
    blueprint::http::deinitHttpClient();
  } catch (...) {
  }
  curl_global_cleanup();
}

}  // namespace

BLUEPRINT_PLUGIN_WITH_HOOKS("dev.blueprint.http", "1.0.0", initHttpPlugin, deinitHttpPlugin,
                            blueprint::http::HttpRequest)
