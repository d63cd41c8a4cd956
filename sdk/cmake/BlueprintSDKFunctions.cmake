# SPDX-License-Identifier: Apache-2.0
# The one place plugin flags live. Our own plugins and third-party ones are built by this function.
set(_BLUEPRINT_SDK_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "")

# blueprint_add_block(<name> <sources>...): a plugin <name>.so that exports only bp_plugin_v1,
# has no STB_GNU_UNIQUE symbols (so it can unload) and no undefined symbols.
function(blueprint_add_block name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE Blueprint::sdk)
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(${name} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-fno-gnu-unique>)
  # ASan builds leave undefined sanitizer symbols for the executable to provide.
  if(NOT BLUEPRINT_SANITIZE)
    target_link_options(${name} PRIVATE -Wl,-z,defs)
  endif()
  target_link_options(${name} PRIVATE -Wl,--exclude-libs,ALL
    "-Wl,--version-script=${_BLUEPRINT_SDK_CMAKE_DIR}/blueprint_plugin.map")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${_BLUEPRINT_SDK_CMAKE_DIR}/blueprint_plugin.map")
  add_custom_command(TARGET ${name} POST_BUILD VERBATIM COMMAND ${CMAKE_COMMAND}
    -DPLUGIN=$<TARGET_FILE:${name}> -P "${_BLUEPRINT_SDK_CMAKE_DIR}/CheckPlugin.cmake")
endfunction()
include("${CMAKE_CURRENT_LIST_DIR}/BlueprintPackageBlock.cmake")  # blueprint_package_block()
