# SPDX-License-Identifier: Apache-2.0
# Post-build check of a plugin: exports exactly bp_plugin_v1 and has no STB_GNU_UNIQUE symbol
# (a UNIQUE symbol makes dlclose a no-op, so the plugin could never be hot-swapped).
# Usage: cmake -DPLUGIN=<file.so> [-DEXPORT=<symbol>] -P CheckPlugin.cmake
# (EXPORT: the one symbol expected instead of bp_plugin_v1, for the host's own modules.)
find_program(_readelf NAMES readelf)
if(NOT _readelf)
  message(WARNING "readelf not found; skipping plugin symbol check for ${PLUGIN}")
  return()
endif()
execute_process(COMMAND ${_readelf} -W --dyn-syms ${PLUGIN} OUTPUT_VARIABLE _syms RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${PLUGIN}: readelf failed")
endif()
string(REPLACE "\n" ";" _lines "${_syms}")
set(_exports "")
foreach(_line IN LISTS _lines)
  if(_line MATCHES "UNIQUE")
    message(FATAL_ERROR "${PLUGIN}: has an STB_GNU_UNIQUE symbol and could never unload: ${_line}\n"
      "Build it with blueprint_add_block() (it passes -fno-gnu-unique).")
  endif()
  # Defined (not UND), globally visible symbols are the exports.
  if(_line MATCHES "^ *[0-9]+: [0-9a-f]+ +[0-9]+ +[A-Z]+ +(GLOBAL|WEAK) +DEFAULT +([0-9]+) +([^ @]+)")
    list(APPEND _exports "${CMAKE_MATCH_3}")
  endif()
endforeach()
if(NOT DEFINED EXPORT)
  set(EXPORT bp_plugin_v1)
endif()
if(NOT _exports STREQUAL EXPORT)
  message(FATAL_ERROR "${PLUGIN}: must export exactly ${EXPORT}, exports: ${_exports}\n"
    "Link it with the SDK's version script (blueprint_add_block() does).")
endif()
