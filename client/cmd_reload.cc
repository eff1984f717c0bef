#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/render.h"

namespace portsyncd::ctl {

int Reload(const Options& o, v1::PortSync::Stub& stub) {
  std::optional<std::string> token = ReadFile(o.token_file);
  if (!token) {
    return Fail(absl::StrCat("cannot read the reload token ", o.token_file, " (",
                             std::strerror(errno), "); reload needs root or --token-file"));
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline(o));
  context.AddMetadata("authorization", absl::StrCat("Bearer ", absl::StripAsciiWhitespace(*token)));
  v1::ReloadResponse response;
  grpc::Status status = stub.Reload(&context, v1::ReloadRequest(), &response);
  if (!status.ok()) return Fail(RpcFailure(o, status));
  if (o.json) {
    std::cout << ToJson(response, true);
    return kOk;
  }
  std::cout << "reloaded: config version " << response.config_version() << "\n";
  std::cout << "changed: "
            << (response.changed_keys().empty() ? "nothing"
                                                : absl::StrJoin(response.changed_keys(), " "))
            << "\n";
  if (!response.restart_required_keys().empty()) {
    std::cout << "needs a restart to take effect: "
              << absl::StrJoin(response.restart_required_keys(), " ") << "\n";
  }
  return kOk;
}

}  // namespace portsyncd::ctl
