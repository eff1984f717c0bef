// portsyncctl: the command-line client of portsyncd's gRPC API.
//
//   portsyncctl [--target T | -n asicN | -n all] [--json] [--timeout S] [TLS options] COMMAND
//   [ARGS] COMMAND: ports [NAME...] | watch [NAME...] | health | reload
//
// options.h parses the command line; connection.h reaches the daemon; one cmd_*.cc per
// command; render.h and watch_session.h hold what they show and remember.
//
// Exit status: 0 success, 1 RPC or server error (including "not running" and "not authorized"),
// 2 usage error.
#include <unistd.h>

#include <iostream>

#include "client/commands.h"
#include "client/connection.h"
#include "client/options.h"

namespace portsyncd::ctl {
namespace {

int Main(int argc, char** argv) {
  ParsedArgs parsed;
  if (std::optional<int> exit_status = ParseArgs(argc, argv, &parsed, std::cout, std::cerr)) {
    return *exit_status;
  }
  Options& o = parsed.options;
  const std::string& command = parsed.command;
  if (o.ns == "all") return AllNamespaces(o, command, parsed.args);
  if (!o.ns.empty()) {
    o.target = NamespaceTarget(o, *AsicNumber(o.ns));
  } else if (!parsed.target_given && access(kDefaultTarget + 5, F_OK) != 0 &&
             access(kSonicTarget + 5, F_OK) == 0) {
    o.target = kSonicTarget;  // a SONiC switch: the swss container's socket, seen from the host
  }
  if (command == "watch") return Watch(o, parsed.args);
  std::string error;
  std::shared_ptr<grpc::Channel> channel = Connect(o, error);
  if (channel == nullptr) return Fail(error);
  auto stub = v1::PortSync::NewStub(channel);
  if (command == "ports") return Ports(o, *stub, parsed.args);
  if (command == "health") return Health(o, *stub);
  return Reload(o, *stub);
}

}  // namespace
}  // namespace portsyncd::ctl

int main(int argc, char** argv) { return portsyncd::ctl::Main(argc, argv); }
