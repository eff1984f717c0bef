// A listening unix socket in a fresh temporary directory, for tests that play a server (a
// scripted Redis) on the other end of a real connection. Removes both when destroyed.
#ifndef PORTSYNCD_TESTS_UNIT_UNIX_LISTENER_H_
#define PORTSYNCD_TESTS_UNIT_UNIX_LISTENER_H_

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace portsyncd {

class UnixListener {
 public:
  // `name`: part of the directory's name, so a leftover says which test made it.
  explicit UnixListener(const std::string& name) {
    std::string tmpl = "/tmp/psd-" + name + "-XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    path_ = dir_ + "/redis.sock";
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
  }
  ~UnixListener() {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  const std::string& path() const { return path_; }
  // The first connection within 10 s (a test that failed to connect must still end); -1 if none.
  int Accept() {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 10000) != 1) return -1;
    return accept(fd_, nullptr, nullptr);
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_UNIX_LISTENER_H_
