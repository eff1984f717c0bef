#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/render.h"

namespace portsyncd::ctl {

// ports / health for every instance: a NAMESPACE column (ports), a section per instance
// (health), or one JSON object keyed by namespace. An instance that cannot be reached is said
// on stderr, the others are still shown, and the exit status is 1.
int AllNamespaces(const Options& options, const std::string& command,
                  const std::vector<std::string>& names) {
  const std::vector<std::pair<int, std::string>> found = FindNamespaces(options);
  if (found.empty()) {
    return Fail(absl::StrCat("no ASIC namespace found: nothing matches ",
                             absl::StrReplaceAll(options.namespace_socket, {{"{N}", "*"}}),
                             " (--namespace-socket sets where the instances listen)"));
  }
  int exit_status = kOk;
  const absl::Time now = absl::Now();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> json;
  for (const auto& [asic, target] : found) {
    const std::string ns = absl::StrCat("asic", asic);
    Options o = options;
    o.target = target;
    std::string error;
    std::shared_ptr<grpc::Channel> channel = Connect(o, error);
    grpc::Status status;
    if (channel != nullptr) {
      auto stub = v1::PortSync::NewStub(channel);
      if (command == "ports") {
        v1::GetPortStateResponse response;
        status = GetPorts(o, *stub, names, response);
        if (status.ok() && o.json)
          json.push_back(absl::StrCat("\"", ns, "\": ", ToJson(response, false)));
        if (status.ok() && !o.json) {
          for (const v1::PortState& p : response.ports()) {
            rows.push_back(PortRow(p, now, response.mode() != "host"));
            rows.back().insert(rows.back().begin(), ns);
          }
        }
      } else if (o.json) {
        v1::GetHealthResponse h;
        status = GetHealth(o, *stub, h);
        if (status.ok()) json.push_back(absl::StrCat("\"", ns, "\": ", ToJson(h, false)));
      } else {
        std::cout << (ns == absl::StrCat("asic", found.front().first) ? "" : "\n") << ns << ": ";
        if (Health(o, *stub) != kOk) exit_status = kRpcError;
        continue;
      }
      if (!status.ok()) error = RpcFailure(o, status);
    }
    if (!error.empty()) {
      std::cerr << "portsyncctl: " << ns << ": " << error << "\n";
      exit_status = kRpcError;
    }
  }
  if (options.json) {
    std::cout << "{" << absl::StrJoin(json, ",\n ") << "}\n";
  } else if (command == "ports") {
    std::vector<std::string> header = PortHeader();
    header.insert(header.begin(), "NAMESPACE");
    rows.insert(rows.begin(), header);
    PrintTable(rows, std::cout);
  }
  return exit_status;
}

}  // namespace portsyncd::ctl
