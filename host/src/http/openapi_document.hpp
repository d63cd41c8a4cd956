// SPDX-License-Identifier: Apache-2.0
// openapi_document.hpp: the OpenAPI 3.0 description of the HTTP API served at GET /openapi.json.
// The source is host/openapi/openapi.json; the build embeds it (host/openapi/embed_openapi.cmake).
#pragma once

#include <string_view>

namespace blueprint::host {

/// The OpenAPI document's JSON text, exactly as in host/openapi/openapi.json.
std::string_view openApiDocument();

}  // namespace blueprint::host
