/* SPDX-License-Identifier: Apache-2.0 */
/** version.h: the plugin ABI version and the SDK package version.
 *  The SDK package's major.minor is the ABI's; CMake parses these lines (sdk/CMakeLists.txt). */
#ifndef BLUEPRINT_VERSION_H
#define BLUEPRINT_VERSION_H

/** BP_ABI_MAJOR: a plugin loads only into a host with the same major. */
#define BP_ABI_MAJOR 1
/** BP_ABI_MINOR: a plugin built with minor N loads into hosts with minor >= N. */
#define BP_ABI_MINOR 3

#define BLUEPRINT_SDK_VERSION_MAJOR 1
#define BLUEPRINT_SDK_VERSION_MINOR 3
#define BLUEPRINT_SDK_VERSION_PATCH 0

#endif /* BLUEPRINT_VERSION_H */
