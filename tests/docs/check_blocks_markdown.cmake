# SPDX-License-Identifier: Apache-2.0
# Fails when docs/blocks.md is not what `blueprint blocks --markdown` generates from the built
# plugins. Inputs: -DCLI=<blueprint> -DPLUGINS=<plugin dir> -DDOC=<docs/blocks.md> -DOUT=<scratch>.
foreach(var CLI PLUGINS DOC OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_blocks_markdown.cmake needs -D${var}=...")
  endif()
endforeach()

set(regenerate "${CLI} blocks --markdown --plugins ${PLUGINS} > ${DOC}")
execute_process(COMMAND "${CLI}" blocks --markdown --plugins "${PLUGINS}"
  OUTPUT_FILE "${OUT}" ERROR_VARIABLE stderr RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "`blueprint blocks --markdown` failed (${rc}): ${stderr}")
endif()
if(stderr)
  # A rejected plugin would silently drop its blocks from the reference.
  message(FATAL_ERROR "`blueprint blocks --markdown` reported problems:\n${stderr}")
endif()
if(NOT EXISTS "${DOC}")
  message(FATAL_ERROR "${DOC} does not exist. Generate it with:\n  ${regenerate}")
endif()
file(READ "${OUT}" generated)
file(READ "${DOC}" committed)
if(NOT generated STREQUAL committed)
  find_program(DIFF diff)
  set(changes "")
  if(DIFF)
    execute_process(COMMAND "${DIFF}" -u "${DOC}" "${OUT}" OUTPUT_VARIABLE changes)
  endif()
  message(FATAL_ERROR "docs/blocks.md is stale: the block manifests changed. Regenerate it with:\n"
    "  ${regenerate}\n${changes}")
endif()
