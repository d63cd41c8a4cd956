# SPDX-License-Identifier: Apache-2.0
# Warnings for the project's own targets. Never put these on Blueprint::sdk: a block author's
# compiler flags are theirs (Abseil: COPTS are PRIVATE).
function(blueprint_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
