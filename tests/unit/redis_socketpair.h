// A hiredis context on one end of a socketpair, non-blocking as ConnectDirect leaves a direct
// connection, and the other end, non-blocking too, where the test plays Redis: it reads what
// was sent and writes the replies when it chooses.
#ifndef PORTSYNCD_TESTS_UNIT_REDIS_SOCKETPAIR_H_
#define PORTSYNCD_TESTS_UNIT_REDIS_SOCKETPAIR_H_

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/redis_connection.h"
#include "gtest/gtest.h"

namespace portsyncd {

struct RedisSocketPair {
  RedisSocketPair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    redis = fds[1];
    context.reset(redisConnectFd(fds[0]));
    EXPECT_NE(context, nullptr);
    if (context == nullptr) return;
    fcntl(context->fd, F_SETFL, fcntl(context->fd, F_GETFL) | O_NONBLOCK);
    context->flags &= ~REDIS_BLOCK;  // as ConnectDirect leaves it
    fcntl(redis, F_SETFL, fcntl(redis, F_GETFL) | O_NONBLOCK);
  }
  ~RedisSocketPair() { close(redis); }
  RedisSocketPair(const RedisSocketPair&) = delete;
  RedisSocketPair& operator=(const RedisSocketPair&) = delete;

  RedisContextPtr context;  // hand it over (std::move); its end closes with it
  int redis = -1;           // the test's end
};

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_REDIS_SOCKETPAIR_H_
