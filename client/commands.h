// portsyncctl's commands, one file each (cmd_*.cc). Each returns the exit status.
#ifndef PORTSYNCD_CLIENT_COMMANDS_H_
#define PORTSYNCD_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/options.h"
#include "grpcpp/grpcpp.h"
#include "portsyncd/v1/portsyncd.grpc.pb.h"

namespace portsyncd::ctl {

namespace v1 = ::portsyncd::v1;

// ports [NAME...]
int Ports(const Options& o, v1::PortSync::Stub& stub, const std::vector<std::string>& names);
// GetPortState, asked again until --timeout while the daemon has not applied its first dump.
grpc::Status GetPorts(const Options& o, v1::PortSync::Stub& stub,
                      const std::vector<std::string>& names, v1::GetPortStateResponse& response);
// health
int Health(const Options& o, v1::PortSync::Stub& stub);
grpc::Status GetHealth(const Options& o, v1::PortSync::Stub& stub, v1::GetHealthResponse& h);
// reload
int Reload(const Options& o, v1::PortSync::Stub& stub);
// watch [NAME...]: connects itself (after it has set up Ctrl-C handling).
int Watch(const Options& o, const std::vector<std::string>& names);
// -n all: ports or health of every instance.
int AllNamespaces(const Options& options, const std::string& command,
                  const std::vector<std::string>& names);

}  // namespace portsyncd::ctl

#endif  // PORTSYNCD_CLIENT_COMMANDS_H_
