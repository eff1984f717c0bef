// The daemon's command line: parsing (getopt_long, with --help and --version), and what it
// overrides in the config file, at start and at every reload.
#ifndef PORTSYNCD_SERVER_CONFIG_COMMAND_LINE_H_
#define PORTSYNCD_SERVER_CONFIG_COMMAND_LINE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "server/config/daemon_config.h"

namespace portsyncd {

// portsyncd --help.
extern const char kUsage[];

struct CommandLine {
  std::optional<std::string> config_path;
  std::optional<std::string> db_config;
  std::optional<std::string> log_level;
  std::optional<std::string> runtime_dir;
  std::optional<int64_t> netlink_buffer;
  std::optional<std::string> socket;
  bool check_only = false;
  bool no_redis = false;  // --no-redis: host mode (redis.enabled = false)
};

// Parses argv into `cl`. Returns the exit status to leave with (0 after --help or --version,
// printed on `out`; 2 for bad usage, explained on `err`), or nullopt to go on.
std::optional<int> ParseCommandLine(int argc, char** argv, CommandLine& cl, std::ostream& out,
                                    std::ostream& err);

// Command-line options override the file, at start and at every reload; the socket defaults to
// RUNTIME_DIR/portsyncd.sock.
void ApplyCommandLine(const CommandLine& cl, DaemonConfig& config);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_CONFIG_COMMAND_LINE_H_
