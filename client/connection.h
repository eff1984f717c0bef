// How portsyncctl reaches a daemon: targets (unix sockets, host:port, TLS), a precise reason
// when it cannot, and the instances of a multi-ASIC system.
#ifndef PORTSYNCD_CLIENT_CONNECTION_H_
#define PORTSYNCD_CLIENT_CONNECTION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/options.h"
#include "grpcpp/grpcpp.h"

namespace portsyncd::ctl {

std::optional<std::string> ReadFile(const std::string& path);
// Prints "portsyncctl: MESSAGE" on stderr; returns kRpcError.
int Fail(const std::string& message);
// "unix:/path" and "/path" are unix sockets; anything else is host:port.
std::string GrpcTarget(const std::string& target);
// For a unix: target, tries a plain connect(); returns why it failed, or nothing (not a unix
// socket, or it accepted: gRPC takes over from there).
std::optional<std::string> ProbeUnixSocket(const std::string& target);
// The channel to o.target (keepalives, fast reconnects for `watch`, TLS); null with `error`.
std::shared_ptr<grpc::Channel> MakeChannel(const Options& o, std::string& error);
// Connects to o.target within --timeout; on failure returns nullptr and says why in `error`.
std::shared_ptr<grpc::Channel> Connect(const Options& o, std::string& error);
std::chrono::system_clock::time_point Deadline(const Options& o);
// A failed RPC, for people: what to do about it.
std::string RpcFailure(const Options& o, const grpc::Status& status);
// -n all: every ASIC namespace that exists (number, target), by number.
std::vector<std::pair<int, std::string>> FindNamespaces(const Options& o);

}  // namespace portsyncd::ctl

#endif  // PORTSYNCD_CLIENT_CONNECTION_H_
