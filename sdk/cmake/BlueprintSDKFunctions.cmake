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

# blueprint_add_block_test(<name> <block target> <sources>...): a GoogleTest executable run by
# ctest that loads the built <block target> through blueprint/testing.hpp (its path is the
# PLUGIN_PATH macro). GoogleTest is required: without it configuring fails here, instead of
# leaving a project whose `ctest` passes without running a single test. For the same reason the
# directory must call enable_testing() first (a function cannot do it for its caller).
# SINCE: SDK 1.2.1
function(blueprint_add_block_test name block)
  if(NOT CMAKE_TESTING_ENABLED)
    message(FATAL_ERROR
      "blueprint_add_block_test(${name}): call enable_testing() in this CMakeLists.txt before "
      "it, or ctest finds no tests and passes without running any.")
  endif()
  if(NOT TARGET GTest::gtest_main)
    find_package(GTest QUIET)
    if(NOT TARGET GTest::gtest_main)
      message(FATAL_ERROR
        "blueprint_add_block_test(${name}): GoogleTest was not found, so the tests of ${block} "
        "cannot be built. Install it (Debian/Ubuntu: sudo apt install libgtest-dev), or configure "
        "with -DBUILD_TESTING=OFF to build the block without its tests (the `blueprint new-block` "
        "project then skips them).")
    endif()
  endif()
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE Blueprint::sdk GTest::gtest_main ${CMAKE_DL_LIBS})
  target_compile_definitions(${name} PRIVATE PLUGIN_PATH="$<TARGET_FILE:${block}>")
  add_dependencies(${name} ${block})
  add_test(NAME ${name} COMMAND ${name})
endfunction()
include("${CMAKE_CURRENT_LIST_DIR}/BlueprintPackageBlock.cmake")  # blueprint_package_block()
