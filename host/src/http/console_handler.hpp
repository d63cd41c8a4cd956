// SPDX-License-Identifier: Apache-2.0
// console_handler.hpp: the web console (issue 14) served at /console/ from the files embedded in
// the binary (console_assets.hpp), and the redirect from / to it. Both answer 404 when the host
// config turns the console off ("console": false).
#pragma once

#include "http/handlers.hpp"

namespace blueprint::host {

/// GET / and GET /console: 302 to /console/.
void handleConsoleRedirect(RequestContext& ctx);
/// GET /console/<file>: the embedded file (index.html for /console/), gzip-compressed when the
/// client accepts it, with an ETag (304 on If-None-Match), `Cache-Control: no-cache` and a
/// `Content-Security-Policy` that allows nothing but this origin. ctx.params[0] is the file's
/// path below /console/, empty for the directory itself.
void handleConsoleAsset(RequestContext& ctx);

}  // namespace blueprint::host
