# SPDX-License-Identifier: Apache-2.0
# A `blueprint new-block` project without GoogleTest must fail at configure time, naming the
# Debian package, instead of building no tests and letting `ctest` exit 0; -DBUILD_TESTING=OFF
# still configures the block alone. Only the SDK component is installed and nothing is compiled.
# Usage: cmake -DBUILD_DIR=… -DCLI=… -DWORK_DIR=… -P new_block_needs_gtest.cmake
foreach(var BUILD_DIR CLI WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "new_block_needs_gtest.cmake needs -D${var}=…")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --component sdk
    --prefix "${WORK_DIR}/prefix" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "installing the SDK component failed (${rc}):\n${err}")
endif()
execute_process(COMMAND "${CLI}" new-block acme_words --type acme.reverse_words
    --dir "${WORK_DIR}/scaffold" RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "blueprint new-block failed (${rc}):\n${err}")
endif()

# GoogleTest hidden from find_package, as on a machine without libgtest-dev.
execute_process(COMMAND ${CMAKE_COMMAND} -S "${WORK_DIR}/scaffold" -B "${WORK_DIR}/no_gtest"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "configuring without GoogleTest succeeded; its tests would silently not "
    "exist and ctest would pass:\n${out}\n${err}")
endif()
if(NOT err MATCHES "GoogleTest was not found" OR NOT err MATCHES "libgtest-dev")
  message(FATAL_ERROR "configuring without GoogleTest failed without naming it and "
    "libgtest-dev:\n${err}")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} -S "${WORK_DIR}/scaffold" -B "${WORK_DIR}/no_tests"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
    -DBUILD_TESTING=OFF RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "-DBUILD_TESTING=OFF did not configure the block alone (${rc}):\n${err}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "new-block without GoogleTest stops at configure time and names libgtest-dev")
