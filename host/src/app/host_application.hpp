// SPDX-License-Identifier: Apache-2.0
// host_application.hpp: blueprint-host, a Poco ServerApplication. Reads the configuration,
// opens storage, loads plugins, deploys the agents directory, starts the job workers and the
// HTTP server, and shuts down in order on SIGTERM/SIGINT (SIGHUP reloads plugins).
#pragma once

#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <map>
#include <string>
#include <vector>

namespace blueprint::host {

class HostApplication final : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void handleFlag(const std::string& name, const std::string& value);
  void handleHelp(const std::string& name, const std::string& value);

  bool help_requested_ = false;
  std::string config_action_;  ///< "print" (--print-config) or "check" (--check-config)
  std::string config_file_;
  std::vector<std::pair<std::string, std::string>> flags_;
};

}  // namespace blueprint::host
