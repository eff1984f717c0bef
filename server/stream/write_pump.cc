#include "server/stream/write_pump.h"

#include <utility>

namespace portsyncd {

void WritePump::Kick() {
  {
    absl::MutexLock lock(&mu_);
    kicked_ = true;
    if (busy_ || finished_) return;  // the owner asks again before it lets go
    busy_ = true;
  }
  Run();
}

void WritePump::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (FinishIfAskedLocked()) return;
      // The only place the pump goes idle, and only with no kick unanswered: a kick that came
      // while the source ran (or a write was in flight) is answered by the next turn.
      if (!kicked_) {
        busy_ = false;
        return;
      }
      kicked_ = false;
    }
    Outgoing out = source_->Next();
    absl::MutexLock lock(&mu_);
    if (FinishIfAskedLocked()) return;
    if (!out.messages.empty()) {
      batch_ = std::move(out.messages);
      next_ = 0;
      finish_after_batch_ = std::move(out.finish);
      ++batches_;
      WriteNextLocked();
      return;  // still busy: OnWriteDone goes on
    }
    if (out.finish) {
      finish_ = std::move(out.finish);
      FinishIfAskedLocked();
      return;
    }
  }
}

void WritePump::WriteNextLocked() {
  ++writes_;
  sink_->StartWrite(batch_[next_++].get());
}

void WritePump::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    if (!ok && !finish_) finish_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
    if (FinishIfAskedLocked()) return;
    if (next_ < batch_.size()) {
      WriteNextLocked();
      return;
    }
    batch_.clear();
    if (finish_after_batch_) {
      finish_ = std::exchange(finish_after_batch_, std::nullopt);
      FinishIfAskedLocked();
      return;
    }
    kicked_ = true;  // the source may hold more than it gave (it caps a batch)
  }
  Run();
}

void WritePump::Finish(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  if (!finish_) finish_ = std::move(status);
  if (busy_) return;  // the owner finishes when its write or its source call returns
  FinishIfAskedLocked();
}

bool WritePump::FinishIfAskedLocked() {
  if (!finish_) return false;
  busy_ = false;
  if (finished_) return true;
  finished_ = true;
  batch_.clear();
  sink_->Finish(*finish_);
  return true;
}

bool WritePump::finishing() const {
  absl::MutexLock lock(&mu_);
  return finish_.has_value();
}

bool WritePump::finished() const {
  absl::MutexLock lock(&mu_);
  return finished_;
}

size_t WritePump::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

size_t WritePump::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

}  // namespace portsyncd
