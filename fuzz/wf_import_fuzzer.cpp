// SPDX-License-Identifier: Apache-2.0
// Fuzzes the Writer Framework import (host/src/wf/wf_import.cpp): any bytes as a
// components-blueprints JSONL file → agent JSON, or an ImportError naming what is wrong. Any other
// exception (a raw nlohmann type_error), or an agent that does not dump as strict JSON, is a
// finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "wf/wf_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const blueprint::wf::ImportResult result =
        blueprint::wf::importFiles({{"components-blueprints_fuzz.jsonl", text}}, "fuzz");
    (void)result.agent.dump();
  } catch (const blueprint::wf::ImportError& e) {
    (void)e.what();
  }
  return 0;
}
