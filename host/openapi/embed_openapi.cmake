# SPDX-License-Identifier: Apache-2.0
# Build step (cmake -P): writes OUTPUT, a C++ file defining blueprint::host::openApiDocument()
# as INPUT's text in a raw string literal. Fails the build when INPUT is not JSON or is not an
# OpenAPI 3.0 document, or when its text holds the literal's closing delimiter.
file(READ "${INPUT}" text)
string(JSON version ERROR_VARIABLE json_error GET "${text}" openapi)
if(json_error)
  message(FATAL_ERROR "${INPUT} is not a valid OpenAPI JSON document: ${json_error}")
endif()
if(NOT version MATCHES "^3\\.0\\.[0-9]+$")
  message(FATAL_ERROR "${INPUT}: \"openapi\" is '${version}', expected 3.0.x")
endif()
string(FIND "${text}" ")openapi\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains ')openapi\"', the raw string delimiter of the generated file")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from host/openapi/openapi.json by host/openapi/embed_openapi.cmake; do not edit.
#include \"http/openapi_document.hpp\"

namespace blueprint::host {

std::string_view openApiDocument() {
  static constexpr char kDocument[] = R\"openapi(${text})openapi\";
  return {kDocument, sizeof(kDocument) - 1};
}

}  // namespace blueprint::host
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
