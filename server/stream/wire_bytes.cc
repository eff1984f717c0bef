#include "server/stream/wire_bytes.h"

#include <cstring>

namespace portsyncd {
namespace {

uint8_t* PutVarint(uint64_t value, uint8_t* out) {
  while (value >= 0x80) {
    *out++ = static_cast<uint8_t>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<uint8_t>(value);
  return out;
}

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

SharedBytes ConcatAsRepeatedField(uint32_t field, const std::vector<SharedBytes>& parts) {
  const uint64_t tag = uint64_t{field} << 3 | 2;  // wire type 2: length-delimited
  std::vector<grpc::Slice> slices;
  size_t total = 0;
  for (const SharedBytes& part : parts) {
    const size_t size = part->Length();
    total += VarintSize(tag) + VarintSize(size) + size;
  }
  grpc_slice out = grpc_slice_malloc(total);
  uint8_t* p = GRPC_SLICE_START_PTR(out);
  for (const SharedBytes& part : parts) {
    p = PutVarint(tag, p);
    p = PutVarint(part->Length(), p);
    slices.clear();
    (void)part->Dump(&slices);  // references, not copies
    for (const grpc::Slice& s : slices) {
      std::memcpy(p, s.begin(), s.size());
      p += s.size();
    }
  }
  grpc::Slice owned(out, grpc::Slice::STEAL_REF);
  return std::make_shared<const grpc::ByteBuffer>(&owned, 1);
}

}  // namespace portsyncd
