#include <iostream>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/render.h"

namespace portsyncd::ctl {

// A daemon that is starting answers UNAVAILABLE until it has applied its first link dump
// (before it, it does not know the kernel): GetPorts asks again until --timeout, as an operator
// running `portsyncctl ports` right after a restart would want.
grpc::Status GetPorts(const Options& o, v1::PortSync::Stub& stub,
                      const std::vector<std::string>& names, v1::GetPortStateResponse& response) {
  const auto deadline = Deadline(o);
  v1::GetPortStateRequest request;
  for (const std::string& name : names) request.add_names(name);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    grpc::Status status = stub.GetPortState(&context, request, &response);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE ||
        !absl::StrContains(status.error_message(), "first link dump") ||
        std::chrono::system_clock::now() + std::chrono::milliseconds(100) >= deadline) {
      return status;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

int Ports(const Options& o, v1::PortSync::Stub& stub, const std::vector<std::string>& names) {
  v1::GetPortStateResponse response;
  grpc::Status status = GetPorts(o, stub, names, response);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(response, true);
    return kOk;
  }
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows = {PortHeader()};
  for (const v1::PortState& p : response.ports()) rows.push_back(PortRow(p, now));
  PrintTable(rows, std::cout);
  return kOk;
}

}  // namespace portsyncd::ctl
