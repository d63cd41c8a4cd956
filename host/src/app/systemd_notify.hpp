// SPDX-License-Identifier: Apache-2.0
// systemd_notify.hpp: tells systemd about the host's state (`Type=notify` units,
// packaging/blueprint-host.service) over the sd_notify datagram protocol: READY=1 once the host
// serves, RELOADING=1 … READY=1 around a SIGHUP reload, STOPPING=1 when it shuts down.
// Implemented here (a dozen lines over a Unix datagram socket) rather than linking libsystemd,
// so the host keeps no dependency on it and runs the same under any service manager.
#pragma once

#include <string_view>

namespace blueprint::host {

/// Sends `state` (newline-separated `KEY=VALUE` lines, e.g. "READY=1") to the socket named by
/// $NOTIFY_SOCKET: a filesystem path, or an abstract socket when it starts with '@'. Returns
/// false, having sent nothing, when the variable is unset (not started by systemd) or the
/// datagram cannot be sent; never throws.
bool notifySystemd(std::string_view state) noexcept;

}  // namespace blueprint::host
