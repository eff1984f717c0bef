// A message serialized once into the bytes gRPC writes, to be written to many streams: gRPC
// copies a ByteBuffer by taking a reference to its slices, so every stream that sends the same
// event shares one serialization (the streaming methods are raw callback methods).
#ifndef PORTSYNCD_SERVER_STREAM_WIRE_BYTES_H_
#define PORTSYNCD_SERVER_STREAM_WIRE_BYTES_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"

namespace portsyncd {

using SharedBytes = std::shared_ptr<const grpc::ByteBuffer>;

// Serializes straight into one gRPC slice (no intermediate string).
inline SharedBytes SerializeShared(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  message.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(slice));
  grpc::Slice owned(slice, grpc::Slice::STEAL_REF);
  return std::make_shared<const grpc::ByteBuffer>(&owned, 1);
}

// The messages `parts` as the repeated message field `field` of one message, e.g. LinkEvents
// as a LinkEventBatch: each part is copied once, after its tag and length (protobuf's encoding
// of a repeated embedded message, so nothing is parsed or serialized again).
SharedBytes ConcatAsRepeatedField(uint32_t field, const std::vector<SharedBytes>& parts);

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_WIRE_BYTES_H_
