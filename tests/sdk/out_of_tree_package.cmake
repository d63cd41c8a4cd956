# SPDX-License-Identifier: Apache-2.0
# Proves the SDK package (DESIGN §4): installs the build to a temporary prefix, builds
# examples/out_of_tree_block against the *installed* BlueprintSDK with find_package, and runs the
# resulting plugin in a blueprint through the host's loader and engine (`blueprint run`).
# Usage: cmake -DBUILD_DIR=… -DSOURCE_DIR=… -DCLI=… -DCORE_PLUGIN=… -DWORK_DIR=… -P out_of_tree_package.cmake
foreach(var BUILD_DIR SOURCE_DIR CLI CORE_PLUGIN WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "out_of_tree_package.cmake needs -D${var}=…")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/plugins")
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
if(NOT EXISTS "${WORK_DIR}/prefix/lib/cmake/BlueprintSDK/BlueprintSDKConfig.cmake")
  message(FATAL_ERROR "the install did not produce lib/cmake/BlueprintSDK/BlueprintSDKConfig.cmake")
endif()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/out_of_tree_block" -B "${WORK_DIR}/build"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
file(COPY "${WORK_DIR}/build/acme_text.so" "${CORE_PLUGIN}" DESTINATION "${WORK_DIR}/plugins")
run("${CLI}" blocks --plugins "${WORK_DIR}/plugins")
if(NOT LAST_OUTPUT MATCHES "acme.uppercase")
  message(FATAL_ERROR "the catalogue does not list acme.uppercase:\n${LAST_OUTPUT}")
endif()
run("${CLI}" run "${SOURCE_DIR}/examples/out_of_tree_block/agent.json" --plugins "${WORK_DIR}/plugins"
    --inputs "{\"text\":\"make it loud\"}")
if(NOT LAST_OUTPUT MATCHES "data: {\"delta\":\"MAKE IT LOUD\"}")
  message(FATAL_ERROR "the out-of-tree block did not run as expected:\n${LAST_OUTPUT}")
endif()

# `blueprint new-block` scaffolds a project that builds, passes its own tests and runs.
run("${CLI}" new-block acme_words --type acme.reverse_words --dir "${WORK_DIR}/scaffold")
run(${CMAKE_COMMAND} -S "${WORK_DIR}/scaffold" -B "${WORK_DIR}/scaffold/build"
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/scaffold/build")
run(${CMAKE_CTEST_COMMAND} --test-dir "${WORK_DIR}/scaffold/build" --output-on-failure)
file(COPY "${WORK_DIR}/scaffold/build/acme_words.so" DESTINATION "${WORK_DIR}/plugins")
run("${CLI}" run "${WORK_DIR}/scaffold/blueprint.json" --plugins "${WORK_DIR}/plugins"
    --inputs "{\"text\":\"abc\"}")
if(NOT LAST_OUTPUT MATCHES "data: {\"delta\":\"cba\"}")
  message(FATAL_ERROR "the scaffolded block did not run as expected:\n${LAST_OUTPUT}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "out-of-tree block built against the installed SDK and ran: MAKE IT LOUD")
