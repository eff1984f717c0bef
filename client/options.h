// portsyncctl's command line: global options, the command and its arguments, and the help texts.
// No gRPC here (tests/unit/portsyncctl_test checks the parsing).
#ifndef PORTSYNCD_CLIENT_OPTIONS_H_
#define PORTSYNCD_CLIENT_OPTIONS_H_

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace portsyncd::ctl {

inline constexpr int kOk = 0;
inline constexpr int kRpcError = 1;
inline constexpr int kUsage = 2;

inline constexpr char kDefaultTarget[] = "unix:/run/portsyncd/portsyncd.sock";
// Where the instance of ASIC namespace asicN listens: SONiC bind-mounts /var/run/redis<N> from
// the host into that ASIC's swss container, and the shipped supervisord section
// (deploy/sonic/portsyncd.supervisord.conf) puts the socket there. {N} is the ASIC number.
// Single-ASIC SONiC: the same, without a number; used when kDefaultTarget does not exist.
inline constexpr char kSonicTarget[] = "unix:/var/run/redis/portsyncd.sock";
inline constexpr char kDefaultNamespaceSocket[] = "/var/run/redis{N}/portsyncd.sock";
inline constexpr char kDefaultTokenFile[] = "/run/portsyncd/reload.token";

extern const char kHelp[];
// Each command's --help.
const std::map<std::string, std::string>& CommandHelp();

struct Options {
  std::string target = kDefaultTarget;
  std::string ns;  // -n: "asicN" or "all"; empty: --target
  std::string namespace_socket = kDefaultNamespaceSocket;
  bool json = false;
  double timeout_s = 5;
  bool tls = false;
  std::string ca_file, cert_file, key_file, server_name;
  std::string token_file = kDefaultTokenFile;
};

struct ParsedArgs {
  Options options;
  bool target_given = false;  // --target (else -n, or the default)
  std::string command;
  std::vector<std::string> args;
};

// Parses argv (getopt_long; the global options stop at the command). Returns the exit status
// to leave with (kOk after --help, printed on `out`; kUsage with the reason on `err`), or
// nullopt to go on.
std::optional<int> ParseArgs(int argc, char** argv, ParsedArgs* parsed, std::ostream& out,
                             std::ostream& err);

// "asic3" -> 3; nothing for anything else.
std::optional<int> AsicNumber(absl::string_view ns);
// The target of ASIC namespace `asic`'s instance (from --namespace-socket).
std::string NamespaceTarget(const Options& o, int asic);

}  // namespace portsyncd::ctl

#endif  // PORTSYNCD_CLIENT_OPTIONS_H_
