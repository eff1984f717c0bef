#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "client/commands.h"
#include "client/connection.h"
#include "client/watch_session.h"

namespace portsyncd::ctl {
namespace {

// Stops `watch` on SIGINT/SIGTERM: a thread waits for them (sigwait; every other thread blocks
// them) and cancels the call in progress, so a Read() or a wait for the daemon returns at once.
// A second signal kills (e.g. output blocked on a paused pipe). Threads: the one it starts.
class Interrupter {
 public:
  // Blocks the signals: create it before any other thread (gRPC's inherit the mask).
  Interrupter() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] { Run(); });
  }
  ~Interrupter() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait; done_ says why
    thread_.join();
  }
  bool interrupted() const { return interrupted_.HasBeenNotified(); }
  // Sleeps up to `d`; true when interrupted meanwhile.
  bool Sleep(absl::Duration d) { return interrupted_.WaitForNotificationWithTimeout(d); }
  // The call a signal cancels (null: none); cancelled at once when already interrupted.
  void SetCall(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    call_ = context;
    if (call_ != nullptr && interrupted()) call_->TryCancel();
  }

 private:
  void Run() {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals_, &sig) != 0) continue;
      if (done_) return;
      if (interrupted()) {
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &signals_, nullptr);
        raise(sig);
        return;
      }
      interrupted_.Notify();
      absl::MutexLock lock(&mu_);
      if (call_ != nullptr) call_->TryCancel();
    }
  }

  sigset_t signals_;
  absl::Notification interrupted_;
  std::atomic<bool> done_{false};
  absl::Mutex mu_;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace

int Watch(const Options& o, const std::vector<std::string>& names) {
  Interrupter interrupter;
  std::string error;
  std::shared_ptr<grpc::Channel> channel = Connect(o, error);
  if (channel == nullptr) return Fail(error);
  auto stub = v1::PortSync::NewStub(channel);
  WatchSession session(names, o.json, std::cout, std::cerr);
  while (!interrupter.interrupted()) {
    grpc::ClientContext context;
    // Reconnecting: wait for the daemon to be back instead of failing at once.
    context.set_wait_for_ready(session.reconnecting());
    // Registered before the call: with wait_for_ready, creating the reader blocks until the
    // daemon is back.
    interrupter.SetCall(&context);
    const v1::StreamLinkEventsRequest request = session.Request();
    grpc::Status status;
    if (session.batched()) {
      std::unique_ptr<grpc::ClientReader<v1::LinkEventBatch>> reader =
          stub->WatchLinkEvents(&context, request);
      v1::LinkEventBatch batch;
      while (reader->Read(&batch)) {
        for (const v1::LinkEvent& event : batch.events()) session.OnEvent(event);
        std::cout.flush();
      }
      status = reader->Finish();
    } else {
      std::unique_ptr<grpc::ClientReader<v1::LinkEvent>> reader =
          stub->StreamLinkEvents(&context, request);
      v1::LinkEvent event;
      while (reader->Read(&event)) {
        session.OnEvent(event);
        std::cout.flush();
      }
      status = reader->Finish();
    }
    interrupter.SetCall(nullptr);
    if (interrupter.interrupted()) break;
    switch (session.OnCallEnd(status)) {
      case WatchSession::Next::kCallAgain:
        break;
      case WatchSession::Next::kGiveUp:
        return Fail(RpcFailure(o, status));
      case WatchSession::Next::kReconnect:
        interrupter.Sleep(session.backoff());
        break;
    }
  }
  return kOk;
}

}  // namespace portsyncd::ctl
