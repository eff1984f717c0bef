// psbench subcommands. Each takes `--key value` options and prints one JSON object on stdout.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace psbench {

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> command;  // after "--"

  std::string Get(const std::string& key, const std::string& def = "") const;
  long GetInt(const std::string& key, long def) const;
  // Dies when the key is missing.
  std::string Need(const std::string& key) const;
};

int RunFloor(const Args& args);
int RunLatency(const Args& args);
int RunStorm(const Args& args);
int RunStartup(const Args& args);
int RunSubscribe(const Args& args);

}  // namespace psbench
