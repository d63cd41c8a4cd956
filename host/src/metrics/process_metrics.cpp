// SPDX-License-Identifier: Apache-2.0
#include "metrics/process_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

namespace blueprint::host {

namespace {

std::string readFile(const char* path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The fields of /proc/self/stat after the command name (which may hold spaces and ')'), so
/// index 0 is field 3 (state) of proc(5).
std::vector<std::string> statFields() {
  const std::string stat = readFile("/proc/self/stat");
  const std::size_t close = stat.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

std::optional<double> bootTimeSeconds() {
  std::istringstream in(readFile("/proc/stat"));
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

std::optional<long> openFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  long count = 0;
  while (const dirent* entry = ::readdir(dir))
    if (entry->d_name[0] != '.') ++count;
  ::closedir(dir);
  return count - 1;  // the descriptor of this very listing
}

void sample(std::string& out, const char* name, const char* type, const char* help, double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.15g", value);
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(number).append("\n");
}

}  // namespace

void renderProcessMetrics(std::string& out) {
  const std::vector<std::string> stat = statFields();
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  // proc(5): num_threads is field 20, starttime 22, rss 24; index = field - 3.
  try {
    if (stat.size() > 21 && page_size > 0)
      sample(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
             std::stod(stat[21]) * static_cast<double>(page_size));
    if (const std::optional<long> fds = openFds())
      sample(out, "process_open_fds", "gauge", "Number of open file descriptors.",
             static_cast<double>(*fds));
    if (stat.size() > 17)
      sample(out, "process_threads", "gauge", "Number of OS threads in the process.",
             std::stod(stat[17]));
    const std::optional<double> boot = bootTimeSeconds();
    if (stat.size() > 19 && boot && ticks_per_second > 0)
      sample(out, "process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.",
             *boot + std::stod(stat[19]) / static_cast<double>(ticks_per_second));
  } catch (const std::exception&) {
    // A /proc format this code does not know: the samples so far stand, the rest are left out.
  }
}

}  // namespace blueprint::host
