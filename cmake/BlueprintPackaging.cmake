# SPDX-License-Identifier: Apache-2.0
# Debian packages with CPack (scripts/package; issue 15). Install COMPONENTs, grouped into two
# packages:
#   blueprint-host     = server (blueprint-host, the PostgreSQL module, /etc/blueprint, the
#                        systemd unit, man pages) + cli (blueprint) + plugins (first-party blocks)
#   blueprint-sdk-dev  = sdk (headers, the BlueprintSDK CMake package, blueprint_add_block())
# The packaged paths are only right for the prefix /usr with CMAKE_INSTALL_LIBDIR=lib
# (scripts/package configures it so): the host compiles its module directory in.

set(BLUEPRINT_PACKAGE_MAINTAINER "Blueprint Host maintainers <maintainers@blueprint-host.example.org>"
  CACHE STRING "Maintainer field of the Debian packages")
set(BLUEPRINT_PACKAGE_PLUGIN_DIR "${CMAKE_INSTALL_FULL_LIBDIR}/blueprint/plugins")
set(BLUEPRINT_PACKAGE_CONFIG_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/blueprint")
set(BLUEPRINT_PACKAGE_DATA_DIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/blueprint")
# Where /etc/blueprint and the unit go. For the package (prefix /usr) the system's own places:
# /etc, and /lib/systemd/system where Debian 12 keeps units (lintian:
# systemd-service-file-outside-lib). Any other prefix keeps them under it, relative, so
# `cmake --install --prefix DIR` never writes outside DIR.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_bp_config_destination ${BLUEPRINT_PACKAGE_CONFIG_DIR})
  set(_bp_unit_dir /lib/systemd/system)
else()
  set(_bp_config_destination ${CMAKE_INSTALL_SYSCONFDIR}/blueprint)
  set(_bp_unit_dir lib/systemd/system)
endif()
set(BLUEPRINT_SYSTEMD_UNIT_DIR "${_bp_unit_dir}")

set(_bp_pkg ${PROJECT_SOURCE_DIR}/packaging)
set(_bp_out ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_bp_out})

# ---- server: configuration, unit, man pages, examples ----
configure_file(${_bp_pkg}/host.json.in ${_bp_out}/host.json @ONLY)
install(FILES ${_bp_out}/host.json DESTINATION ${_bp_config_destination} COMPONENT server)
install(DIRECTORY DESTINATION ${_bp_config_destination}/agents COMPONENT server)
install(FILES ${_bp_pkg}/blueprint-host.service DESTINATION ${BLUEPRINT_SYSTEMD_UNIT_DIR}
  COMPONENT server)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples/agents
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/blueprint-host/examples COMPONENT server)

# Man pages, gzip -9n as Debian policy wants (no name or time stamp in the header).
find_program(BLUEPRINT_GZIP gzip REQUIRED)
set(_bp_man_pages "")
foreach(page blueprint-host.8 blueprint.1)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  add_custom_command(OUTPUT ${_bp_out}/${page}.gz
    COMMAND ${BLUEPRINT_GZIP} -9nc ${_bp_pkg}/man/${page} > ${_bp_out}/${page}.gz
    DEPENDS ${_bp_pkg}/man/${page} VERBATIM)
  list(APPEND _bp_man_pages ${_bp_out}/${page}.gz)
  if(page STREQUAL "blueprint.1")
    set(_bp_component cli)
  else()
    set(_bp_component server)
  endif()
  install(FILES ${_bp_out}/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section}
    COMPONENT ${_bp_component})
endforeach()

# copyright and changelog.Debian.gz for each package (lintian errors without them).
string(TIMESTAMP _bp_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)  # honours SOURCE_DATE_EPOCH
set(BLUEPRINT_DEB_VERSION ${PROJECT_VERSION}-1)
set(BLUEPRINT_DEB_DATE ${_bp_deb_date})
string(TIMESTAMP BLUEPRINT_COPYRIGHT_YEAR "%Y" UTC)
foreach(BLUEPRINT_DEB_PACKAGE blueprint-host blueprint-sdk-dev)
  if(BLUEPRINT_DEB_PACKAGE STREQUAL "blueprint-host")
    set(_bp_component server)
  else()
    set(_bp_component sdk)
  endif()
  set(_bp_doc ${_bp_out}/${BLUEPRINT_DEB_PACKAGE})
  configure_file(${_bp_pkg}/debian/changelog.in ${_bp_doc}/changelog.Debian @ONLY)
  configure_file(${_bp_pkg}/debian/copyright.in ${_bp_doc}/copyright @ONLY)
  add_custom_command(OUTPUT ${_bp_doc}/changelog.Debian.gz
    COMMAND ${BLUEPRINT_GZIP} -9nc ${_bp_doc}/changelog.Debian > ${_bp_doc}/changelog.Debian.gz
    DEPENDS ${_bp_doc}/changelog.Debian VERBATIM)
  list(APPEND _bp_man_pages ${_bp_doc}/changelog.Debian.gz)
  install(FILES ${_bp_doc}/copyright ${_bp_doc}/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${BLUEPRINT_DEB_PACKAGE} COMPONENT ${_bp_component})
endforeach()
add_custom_target(blueprint_package_docs ALL DEPENDS ${_bp_man_pages})

# ---- maintainer scripts and conffiles of blueprint-host ----
configure_file(${_bp_pkg}/debian/conffiles.in ${_bp_out}/control/conffiles @ONLY)
file(COPY ${_bp_pkg}/debian/postinst ${_bp_pkg}/debian/prerm ${_bp_pkg}/debian/postrm
  DESTINATION ${_bp_out}/control)

# ---- CPack ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME blueprint)
set(CPACK_PACKAGE_VENDOR "Blueprint Host contributors")
set(CPACK_PACKAGE_CONTACT "${BLUEPRINT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENTS_ALL server cli plugins sdk)
set(CPACK_COMPONENT_SERVER_GROUP host)
set(CPACK_COMPONENT_CLI_GROUP host)
set(CPACK_COMPONENT_PLUGINS_GROUP host)
set(CPACK_COMPONENT_SDK_GROUP sdk)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${BLUEPRINT_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_DEBIAN_HOST_PACKAGE_NAME blueprint-host)
set(CPACK_DEBIAN_HOST_PACKAGE_SECTION net)
# Depends: what dpkg-shlibdeps finds the binaries and plugins need, plus adduser (postinst).
set(CPACK_DEBIAN_HOST_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_HOST_PACKAGE_DEPENDS "adduser")
# CPack indents the lines after the summary and turns the empty line into " .".
set(CPACK_DEBIAN_HOST_DESCRIPTION
  "runtime for blueprints of block plugins behind an HTTP API
Blueprint Host runs blueprints - workflows of blocks chained by their end
states - triggered over HTTP, compatible with the Writer Agent Builder API
Trigger contract. Blocks are shared libraries written against a small C ABI
and are swapped while the server runs. Jobs are stored in SQLite or in a
PostgreSQL database shared by several hosts.

This package holds the server with its systemd unit, the blueprint command
and the first-party block plugins.")
set(CPACK_DEBIAN_HOST_PACKAGE_CONTROL_EXTRA
  ${_bp_out}/control/conffiles ${_bp_out}/control/postinst ${_bp_out}/control/prerm
  ${_bp_out}/control/postrm)

set(CPACK_DEBIAN_SDK_PACKAGE_NAME blueprint-sdk-dev)
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_SDK_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "nlohmann-json3-dev (>= 3.11), cmake (>= 3.25)")
set(CPACK_DEBIAN_SDK_PACKAGE_RECOMMENDS "g++, blueprint-host")
set(CPACK_DEBIAN_SDK_DESCRIPTION
  "SDK for writing Blueprint Host block plugins
Headers of the plugin C ABI and its header-only C++17 wrapper, and the
BlueprintSDK CMake package: find_package(BlueprintSDK) then
blueprint_add_block() builds a plugin with the right flags, and
blueprint_package_block() turns it into a Debian package that installs it
into /usr/lib/blueprint/plugins.")

include(CPack)
