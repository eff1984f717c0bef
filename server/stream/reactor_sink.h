// ReactorSink: a WritePump's sink (server/stream/write_pump.h) that is a gRPC server reactor's
// StartWrite and Finish: a ServerWriteReactor or ServerBidiReactor of ByteBuffers (our streaming
// methods are raw, so one serialization is written to every stream).
#ifndef PORTSYNCD_SERVER_STREAM_REACTOR_SINK_H_
#define PORTSYNCD_SERVER_STREAM_REACTOR_SINK_H_

#include "grpcpp/grpcpp.h"
#include "server/stream/write_pump.h"

namespace portsyncd {

template <typename Reactor>
class ReactorSink : public StreamSink {
 public:
  explicit ReactorSink(Reactor* reactor) : reactor_(reactor) {}
  void StartWrite(const grpc::ByteBuffer* message) override { reactor_->StartWrite(message); }
  void Finish(const grpc::Status& status) override { reactor_->Finish(status); }

 private:
  Reactor* const reactor_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_REACTOR_SINK_H_
