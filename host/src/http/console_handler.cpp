// SPDX-License-Identifier: Apache-2.0
// The web console's files. They are compressed once, on first use, instead of at build time: a
// CMake step cannot gzip without an extra tool, and ~150 KiB take a few milliseconds. Every
// answer is revalidated by ETag (no content-hashed names), so a new host build is never hidden
// behind a stale cache and an unchanged one costs a 304. See docs/decisions/012-web-console.md.
#include "http/console_handler.hpp"

#include <Poco/DeflatingStream.h>
#include <Poco/String.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "http/console_assets.hpp"
#include "http/http_error.hpp"

namespace blueprint::host {

namespace {

/// `script-src` and `style-src` fall back to default-src: no inline script or style may run, so
/// a string from the API that reached the DOM as markup still could not execute.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void requireConsoleOn(const RequestContext& ctx) {
  if (!ctx.services.config->console)
    throw ApiError(404, "not_found", "the web console is turned off (host config \"console\")");
}

std::string_view contentTypeOf(std::string_view path) {
  auto ends = [&](std::string_view suffix) {
    return path.size() >= suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "text/plain; charset=utf-8";
}

/// Each asset's gzip form, index for index with consoleAssets(); empty where gzip is no smaller.
const std::vector<std::string>& gzippedAssets() {
  static const std::vector<std::string> gzipped = [] {
    const auto [assets, count] = consoleAssets();
    std::vector<std::string> out(count);
    for (std::size_t i = 0; i < count; ++i) {
      std::ostringstream buffer;
      Poco::DeflatingOutputStream deflate(buffer, Poco::DeflatingStreamBuf::STREAM_GZIP, 9);
      deflate.write(assets[i].bytes.data(), static_cast<std::streamsize>(assets[i].bytes.size()));
      deflate.close();
      std::string packed = buffer.str();
      if (packed.size() < assets[i].bytes.size()) out[i] = std::move(packed);
    }
    return out;
  }();
  return gzipped;
}

/// True when Accept-Encoding lists gzip (or *) without q=0.
bool acceptsGzip(const std::string& header) {
  std::size_t at = 0;
  while (at < header.size()) {
    std::size_t end = header.find(',', at);
    if (end == std::string::npos) end = header.size();
    const std::string item = Poco::toLower(Poco::trim(header.substr(at, end - at)));
    at = end + 1;
    const std::size_t semicolon = item.find(';');
    const std::string coding = Poco::trim(item.substr(0, semicolon));
    if (coding != "gzip" && coding != "*") continue;
    if (semicolon == std::string::npos) return true;
    std::string params = item.substr(semicolon + 1);
    params.erase(std::remove(params.begin(), params.end(), ' '), params.end());
    const bool refused =
        params == "q=0" || params == "q=0.0" || params == "q=0.00" || params == "q=0.000";
    if (!refused) return true;
  }
  return false;
}

/// True when If-None-Match names `etag` (or is *).
bool matchesEtag(const std::string& header, std::string_view etag) {
  if (Poco::trim(header) == "*") return true;
  std::size_t at = 0;
  while (at < header.size()) {
    std::size_t end = header.find(',', at);
    if (end == std::string::npos) end = header.size();
    std::string item = Poco::trim(header.substr(at, end - at));
    at = end + 1;
    if (item.rfind("W/", 0) == 0) item.erase(0, 2);  // weak comparison, RFC 9110 §13.1.2
    if (item == etag) return true;
  }
  return false;
}

void redirectToConsole(RequestContext& ctx) {
  static constexpr std::string_view kBody = "Moved to /console/\n";
  ctx.response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_FOUND);
  ctx.response.set("Location", "/console/");
  ctx.response.setContentType("text/plain; charset=utf-8");
  ctx.response.sendBuffer(kBody.data(), kBody.size());
}

}  // namespace

void handleConsoleRedirect(RequestContext& ctx) {
  requireConsoleOn(ctx);
  redirectToConsole(ctx);
}

void handleConsoleAsset(RequestContext& ctx) {
  requireConsoleOn(ctx);
  std::string path = ctx.params.empty() ? std::string() : ctx.params[0];
  if (path.empty()) {
    // "/console" and "/console/" match alike; only the second makes the page's relative URLs
    // (app.js, style.css) resolve below /console/.
    const std::string& target = ctx.request.getURI();
    const std::string raw_path = target.substr(0, target.find_first_of("?#"));
    if (raw_path.empty() || raw_path.back() != '/') return redirectToConsole(ctx);
    path = "index.html";
  }
  const auto [assets, count] = consoleAssets();
  std::size_t index = count;
  for (std::size_t i = 0; i < count; ++i)
    if (assets[i].path == path) index = i;
  if (index == count) throw ApiError(404, "not_found", "the console has no file '" + path + "'");
  const EmbeddedAsset& asset = assets[index];

  Poco::Net::HTTPServerResponse& response = ctx.response;
  response.set("ETag", std::string(asset.etag));
  response.set("Cache-Control", "no-cache");
  response.set("Vary", "Accept-Encoding");
  response.set("Content-Security-Policy", kContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  if (matchesEtag(ctx.request.get("If-None-Match", ""), asset.etag)) {
    response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
    response.sendBuffer("", 0);
    return;
  }
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType(std::string(contentTypeOf(asset.path)));
  const std::string& gzipped = gzippedAssets()[index];
  if (!gzipped.empty() && acceptsGzip(ctx.request.get("Accept-Encoding", ""))) {
    response.set("Content-Encoding", "gzip");
    response.sendBuffer(gzipped.data(), gzipped.size());
    return;
  }
  response.sendBuffer(asset.bytes.data(), asset.bytes.size());
}

}  // namespace blueprint::host
