#include <fnmatch.h>

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
  std::vector<std::string> patterns;
  for (const std::string& name : names) {
    if (name.find_first_of("*?[") != std::string::npos) {
      patterns.push_back(name);
    } else {
      request.add_names(name);
    }
  }
  // One pattern alone is filtered by the daemon; several (or a pattern with names) here.
  const bool filter_here = patterns.size() > 1 || (!patterns.empty() && request.names_size() > 0);
  if (patterns.size() == 1 && !filter_here) request.set_name_pattern(patterns.front());
  if (filter_here) request.clear_names();
  auto wanted = [&](const std::string& name) {
    if (!filter_here) return true;
    for (const std::string& n : names) {
      if (n == name || fnmatch(n.c_str(), name.c_str(), 0) == 0) return true;
    }
    return false;
  };
  response.Clear();
  for (;;) {
    v1::GetPortStateResponse page;
    grpc::ClientContext context;
    context.set_deadline(deadline);
    grpc::Status status = stub.GetPortState(&context, request, &page);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        absl::StrContains(status.error_message(), "first link dump") &&
        std::chrono::system_clock::now() + std::chrono::milliseconds(100) < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    if (!status.ok()) return status;
    // The pages, as one response (the last page's sequence: every page is at least this new).
    for (v1::PortState& port : *page.mutable_ports()) {
      if (wanted(port.name())) *response.add_ports() = std::move(port);
    }
    response.set_sequence(page.sequence());
    response.set_instance_id(page.instance_id());
    response.set_mode(page.mode());
    if (page.next_page_token().empty()) {
      response.set_total_size(response.ports_size());
      return status;
    }
    request.set_page_token(page.next_page_token());
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
  for (const v1::PortState& p : response.ports()) {
    rows.push_back(PortRow(p, now, response.mode() != "host"));
  }
  PrintTable(rows, std::cout);
  return kOk;
}

}  // namespace portsyncd::ctl
