#include "server/config/reload_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/logging.h"

namespace portsyncd {

std::string RandomHex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      LOG_ERROR("getrandom failed: ", std::strerror(errno));
      std::abort();  // no safe fallback for a credential
    }
    filled += static_cast<size_t>(n);
  }
  std::string out;
  for (unsigned char c : raw) absl::StrAppendFormat(&out, "%02x", c);
  return out;
}

absl::StatusOr<std::string> ReloadToken(const DaemonConfig& config) {
  const std::string& file = config.grpc.reload_token_file;
  if (!file.empty()) {
    std::ifstream in(file);
    std::string token;
    if (!in || !std::getline(in, token) || absl::StripAsciiWhitespace(token).empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("grpc.reload_token_file ", file, ": cannot read a token from it"));
    }
    return std::string(absl::StripAsciiWhitespace(token));
  }
  const std::string path = config.engine.runtime_dir + "/reload.token";
  const std::string token = RandomHex(32);
  // O_NOFOLLOW: never write a credential through a symlink someone planted.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || fchmod(fd, 0600) != 0 ||
      write(fd, (token + "\n").data(), token.size() + 1) !=
          static_cast<ssize_t>(token.size() + 1)) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write the reload token ", path, ": ", std::strerror(errno)));
  }
  close(fd);
  return token;
}

}  // namespace portsyncd
