// WritePump: the write loop of every server stream of both APIs (StreamLinkEvents,
// WatchLinkEvents, gNMI Subscribe), written once.
//
// A stream supplies what to send next (a Source); the pump decides when to ask and writes it to
// a Sink (the gRPC reactor in the daemon, a fake in tests). Its promises:
//   - one write in flight at a time (gRPC's callback API allows no more);
//   - a Kick while the pump is busy (asking its source, or writing) is never lost: the pump asks
//     its source again before it goes idle;
//   - what a source returns in one call is written back to back, without asking it again in
//     between. (Not with gRPC's buffer hint: on Debian 12's gRPC 1.51 a callback stream written
//     with hinted writes sent one event thousands of times in place of the events that followed
//     it, seen in test_api's storm test; docs/PERFORMANCE.md. A stream that wants fewer writes
//     sends fewer, larger messages: WatchLinkEvents.)
//   - Finish happens once, whatever asks for it (cancel, a failed write, shutdown, the source),
//     and never during a write or while the source runs: then the busy owner finishes.
//
// Threads: Kick, Finish and OnWriteDone may be called on any thread, concurrently; the pump
// calls its source on whichever of them owns it at the time (never two at once) with no lock of
// its own held, so a source may take other locks (the hub's). Sink calls are made with the
// pump's lock held and must not call back into the pump (gRPC runs OnWriteDone on another
// thread).
#ifndef PORTSYNCD_SERVER_STREAM_WRITE_PUMP_H_
#define PORTSYNCD_SERVER_STREAM_WRITE_PUMP_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "server/stream/wire_bytes.h"

namespace portsyncd {

// What a stream sends next: `messages`, in order, then (when set) the end of the stream.
struct Outgoing {
  std::vector<SharedBytes> messages;
  std::optional<grpc::Status> finish;
  bool empty() const { return messages.empty() && !finish; }
};

// Where a pump writes: a gRPC server reactor's StartWrite and Finish.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void StartWrite(const grpc::ByteBuffer* message) = 0;
  virtual void Finish(const grpc::Status& status) = 0;
};

// What a pump asks for more.
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // What to send now; empty when nothing (a later Kick asks again). Never called concurrently
  // with itself, nor after the pump finished.
  virtual Outgoing Next() = 0;
};

class WritePump {
 public:
  // Not owned; both outlive the pump.
  WritePump(StreamSink* sink, StreamSource* source) : sink_(sink), source_(source) {}

  // There may be something new to send: asks the source now, or (when busy) once the current
  // work is done.
  void Kick();
  // gRPC's OnWriteDone of the write the pump started.
  void OnWriteDone(bool ok);
  // Ends the stream with `status` (the first status given wins), at once when idle, else when
  // the write in flight or the source's call returns; what is not yet written is dropped.
  void Finish(grpc::Status status);

  // Finish has been asked for (it may wait for the write in flight).
  bool finishing() const;
  // Finish has reached the sink.
  bool finished() const;
  // Messages handed to the sink, and the calls to the source that returned some.
  size_t writes() const;
  size_t batches() const;

 private:
  // The busy owner's loop: asks the source until it has something to write or nothing is left.
  void Run();
  // Starts the next message of `batch_` (mu_ held).
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the stream if a finish is asked for; returns whether it did (busy_ released).
  bool FinishIfAskedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StreamSink* const sink_;
  StreamSource* const source_;
  mutable absl::Mutex mu_;
  // Held by whoever asks the source or has a write in flight; only the holder writes.
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  // Something may be new since the source was last asked.
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // asked for
  bool finished_ ABSL_GUARDED_BY(mu_) = false;               // given to the sink
  // The batch being written: messages_[next_] is next; the one before it is in flight (kept
  // alive until its OnWriteDone).
  std::vector<SharedBytes> batch_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> finish_after_batch_ ABSL_GUARDED_BY(mu_);
  size_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t batches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_SERVER_STREAM_WRITE_PUMP_H_
