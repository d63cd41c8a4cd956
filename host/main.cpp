// SPDX-License-Identifier: Apache-2.0
// blueprint-host: the server. Everything happens in app/host_application.cpp.
#include <Poco/Util/ServerApplication.h>

#include <iostream>

#include "app/host_application.hpp"

POCO_SERVER_MAIN(blueprint::host::HostApplication)
