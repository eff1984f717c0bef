// Helpers shared by the unit tests of the streaming half.
#ifndef PORTSYNCD_TESTS_UNIT_STREAM_TEST_UTIL_H_
#define PORTSYNCD_TESTS_UNIT_STREAM_TEST_UTIL_H_

#include <string>
#include <vector>

#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "server/stream/event_hub.h"

namespace portsyncd {

// The bytes of a message as gRPC would write them.
inline std::string BytesOf(const grpc::ByteBuffer& message) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(message.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// A ring of 4 changes that lets a stream fall 2 behind: the tests' streams fall behind, and
// their changes leave the ring, with a handful of changes.
inline EventHubOptions SmallRing() {
  return EventHubOptions{.replay_buffer = 4, .stream_queue_limit = 2, .max_streams = 1};
}

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_UNIT_STREAM_TEST_UTIL_H_
