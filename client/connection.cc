#include "client/connection.h"

#include <glob.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace portsyncd::ctl {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Fail(const std::string& message) {
  std::cerr << "portsyncctl: " << message << "\n";
  return kRpcError;
}

std::string GrpcTarget(const std::string& target) {
  if (absl::StartsWith(target, "/")) return absl::StrCat("unix:", target);
  return target;
}

std::optional<std::string> ProbeUnixSocket(const std::string& target) {
  if (!absl::StartsWith(target, "unix:")) return std::nullopt;
  std::string path(absl::StripPrefix(target, "unix:"));
  if (absl::StartsWith(path, "//")) path = path.substr(2);
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return std::nullopt;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc == 0) return std::nullopt;
  switch (err) {
    case EACCES:
    case EPERM:
      return absl::StrCat(std::strerror(err), " (", path,
                          ": API access needs write permission on the socket, usually membership "
                          "in its group)");
    case ENOENT:
      return absl::StrCat("no socket at ", path, ": is it running?");
    case ECONNREFUSED:
      return absl::StrCat("nobody listens on ", path, ": is it running?");
    default:
      return absl::StrCat(std::strerror(err), " (", path, ")");
  }
}

std::shared_ptr<grpc::Channel> MakeChannel(const Options& o, std::string& error) {
  grpc::ChannelArguments args;
  // Detects a daemon that vanished while `watch` waits for events on an idle stream.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // An idle watch sends no data; keep pinging anyway (the default stops after two pings).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // After a daemon restart, `watch` should be back within a second or two, not gRPC's default
  // reconnect backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!o.server_name.empty()) args.SetSslTargetNameOverride(o.server_name);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (o.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca_file.empty()) {
      std::optional<std::string> ca = ReadFile(o.ca_file);
      if (!ca) {
        error = absl::StrCat("cannot read --ca ", o.ca_file);
        return nullptr;
      }
      ssl.pem_root_certs = *ca;
    }
    if (!o.cert_file.empty()) {
      std::optional<std::string> cert = ReadFile(o.cert_file);
      std::optional<std::string> key = ReadFile(o.key_file);
      if (!cert || !key) {
        error = absl::StrCat("cannot read --cert ", o.cert_file, " or --key ", o.key_file);
        return nullptr;
      }
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(GrpcTarget(o.target), credentials, args);
}

std::chrono::system_clock::time_point Deadline(const Options& o) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
}

std::string RpcFailure(const Options& o, const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("cannot reach portsyncd at ", o.target, ": is it running? (",
                          status.error_message(), ")");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat("not authorized: ", status.error_message());
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return status.error_message();
    default:
      return absl::StrCat(status.error_message(), " (gRPC status ", status.error_code(), ")");
  }
}

std::shared_ptr<grpc::Channel> Connect(const Options& o, std::string& error) {
  // A unix socket the kernel refuses (no permission, no such file, nobody listening) is said
  // at once and precisely, rather than after the timeout as "no connection".
  if (std::optional<std::string> refused = ProbeUnixSocket(GrpcTarget(o.target))) {
    error = absl::StrCat("cannot reach portsyncd at ", o.target, ": ", *refused);
    return nullptr;
  }
  std::shared_ptr<grpc::Channel> channel = MakeChannel(o, error);
  if (channel == nullptr) return nullptr;
  if (!channel->WaitForConnected(Deadline(o))) {
    error = absl::StrCat("cannot reach portsyncd at ", o.target,
                         ": is it running? (no connection within ", o.timeout_s, " s)");
    return nullptr;
  }
  return channel;
}

// -n all: every ASIC namespace that exists, by number: the path component of the template that
// holds {N} (on SONiC /var/run/redis<N>, there for every ASIC whether or not its portsyncd
// runs), so a stopped instance is reported as unreachable rather than silently left out.
std::vector<std::pair<int, std::string>> FindNamespaces(const Options& o) {
  const std::string& t = o.namespace_socket;
  const size_t at = t.find("{N}");
  const size_t end = std::min(t.find('/', at), t.size());  // end of the component with {N}
  const std::string before = t.substr(0, at);
  const std::string after = t.substr(at + 3, end - at - 3);
  std::vector<std::pair<int, std::string>> found;
  glob_t matches{};
  if (glob(absl::StrCat(before, "*", after).c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      const std::string matched = matches.gl_pathv[i];
      absl::string_view number = matched;
      if (!absl::ConsumePrefix(&number, before) || !absl::ConsumeSuffix(&number, after)) continue;
      if (std::optional<int> n = AsicNumber(absl::StrCat("asic", number))) {
        // The path found (redis01 stays redis01), then the rest of the template.
        found.emplace_back(
            *n, absl::StrCat("unix:", matched,
                             absl::StrReplaceAll(t.substr(end), {{"{N}", std::string(number)}})));
      }
    }
  }
  globfree(&matches);
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace portsyncd::ctl
