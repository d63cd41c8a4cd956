# SPDX-License-Identifier: Apache-2.0
# blueprint_package_block(): a block project's plugin as a Debian package (cpack -G DEB) that
# installs it into /usr/lib/blueprint/plugins, where the packaged blueprint-host loads it (and a
# host started with --watch-plugins swaps it in: dpkg writes <file>.dpkg-new and renames it over
# the old file, the same atomic rename as a manual deploy).
#
#   blueprint_package_block(<target>
#     [PACKAGE_NAME <name>]        default blueprint-block-<target, _ as ->
#     [VERSION <x.y.z>]            default PROJECT_VERSION
#     [MAINTAINER "Name <mail>"]   default $DEBFULLNAME <$DEBEMAIL>, else a placeholder
#     [DESCRIPTION "<one line>"]   the package's synopsis
#     [LICENSE_FILE <file>])       copied into the package's copyright file
#
# Then `cpack -G DEB` in the build directory writes <name>_<version>-1_<arch>.deb. One call per
# project: a build tree has one CPack configuration.
include_guard(GLOBAL)

function(blueprint_package_block target)
  cmake_parse_arguments(PARSE_ARGV 1 BP "" "PACKAGE_NAME;VERSION;MAINTAINER;DESCRIPTION;LICENSE_FILE" "")
  if(BP_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "blueprint_package_block: unknown arguments ${BP_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "blueprint_package_block: ${target} is not a target (call blueprint_add_block first)")
  endif()
  get_property(_packaged GLOBAL PROPERTY BLUEPRINT_PACKAGED_BLOCK)
  if(_packaged)
    message(FATAL_ERROR "blueprint_package_block: ${_packaged} is already packaged; a project makes one package")
  endif()
  set_property(GLOBAL PROPERTY BLUEPRINT_PACKAGED_BLOCK ${target})

  if(NOT BP_PACKAGE_NAME)
    string(TOLOWER "blueprint-block-${target}" BP_PACKAGE_NAME)
    string(REPLACE "_" "-" BP_PACKAGE_NAME "${BP_PACKAGE_NAME}")
  endif()
  if(NOT BP_PACKAGE_NAME MATCHES "^[a-z0-9][a-z0-9+.-]+$")
    message(FATAL_ERROR "blueprint_package_block: '${BP_PACKAGE_NAME}' is not a Debian package name "
      "(lower-case letters, digits, + . -)")
  endif()
  if(NOT BP_VERSION)
    set(BP_VERSION "${PROJECT_VERSION}")
  endif()
  if(NOT BP_VERSION)
    set(BP_VERSION 0.1.0)
  endif()
  if(NOT BP_MAINTAINER)
    if(DEFINED ENV{DEBFULLNAME} AND DEFINED ENV{DEBEMAIL})
      set(BP_MAINTAINER "$ENV{DEBFULLNAME} <$ENV{DEBEMAIL}>")
    else()
      set(BP_MAINTAINER "${target} maintainers <maintainers@example.org>")
    endif()
  endif()
  if(NOT BP_DESCRIPTION)
    set(BP_DESCRIPTION "Blueprint block plugin ${target}")
  endif()

  set(component blueprint_block)
  install(TARGETS ${target} LIBRARY DESTINATION lib/blueprint/plugins COMPONENT ${component})

  # copyright and changelog.Debian.gz: every Debian package has them (lintian errors without).
  set(doc_dir "${CMAKE_CURRENT_BINARY_DIR}/blueprint_package/${BP_PACKAGE_NAME}")
  file(MAKE_DIRECTORY "${doc_dir}")
  string(TIMESTAMP year "%Y" UTC)
  set(copyright "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    "Upstream-Name: ${PROJECT_NAME}\n\nFiles: *\nCopyright: ${year} ${BP_MAINTAINER}\n")
  if(BP_LICENSE_FILE)
    file(READ "${BP_LICENSE_FILE}" license_text)
    string(REGEX REPLACE "\n\n" "\n.\n" license_text "${license_text}")
    string(REGEX REPLACE "\n" "\n " license_text "${license_text}")
    string(APPEND copyright "License: custom\n ${license_text}\n")
  else()
    string(APPEND copyright "License: unspecified\n No licence was given to blueprint_package_block(LICENSE_FILE).\n")
  endif()
  file(WRITE "${doc_dir}/copyright" ${copyright})
  string(TIMESTAMP date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE "${doc_dir}/changelog.Debian"
    "${BP_PACKAGE_NAME} (${BP_VERSION}-1) unstable; urgency=medium\n\n"
    "  * Built with blueprint_package_block().\n\n -- ${BP_MAINTAINER}  ${date}\n")
  find_program(BLUEPRINT_GZIP gzip REQUIRED)
  execute_process(COMMAND "${BLUEPRINT_GZIP}" -9nf "${doc_dir}/changelog.Debian" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "blueprint_package_block: gzip failed on ${doc_dir}/changelog.Debian")
  endif()
  install(FILES "${doc_dir}/copyright" "${doc_dir}/changelog.Debian.gz"
    DESTINATION share/doc/${BP_PACKAGE_NAME} COMPONENT ${component})

  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGE_NAME ${BP_PACKAGE_NAME})
  set(CPACK_PACKAGE_VERSION ${BP_VERSION})
  set(CPACK_PACKAGE_CONTACT "${BP_MAINTAINER}")
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_STRIP_FILES ON)
  set(CPACK_DEB_COMPONENT_INSTALL ON)
  set(CPACK_COMPONENTS_ALL ${component})
  set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_NAME ${BP_PACKAGE_NAME})
  set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
  set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BP_MAINTAINER}")
  set(CPACK_DEBIAN_PACKAGE_SECTION misc)
  set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS blueprint-host)
  set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
  # CPack indents the lines after the summary itself.
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${BP_DESCRIPTION}\nThis package installs ${target}.so into /usr/lib/blueprint/plugins,\nthe plugin directory of the packaged Blueprint Host.")
  include(CPack)
endfunction()
