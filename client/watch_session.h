// WatchSession: what `portsyncctl watch` knows between calls, without gRPC calls in it
// (tests/unit/portsyncctl_test drives it with events by hand): the request for the next call
// (where to resume: the last live event or SYNCED seen, with its instance), how each event is
// printed, and what to do when a call ends (fall back to StreamLinkEvents, reconnect with
// backoff, or give up).
#ifndef PORTSYNCD_CLIENT_WATCH_SESSION_H_
#define PORTSYNCD_CLIENT_WATCH_SESSION_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "portsyncd/v1/portsyncd.pb.h"

namespace portsyncd::ctl {

class WatchSession {
 public:
  // `out`: the events (JSON lines with `json`); `err`: reconnection notes. Times in `zone`.
  WatchSession(std::vector<std::string> names, bool json, std::ostream& out, std::ostream& err,
               absl::TimeZone zone = absl::LocalTimeZone());

  // The next call's request: the names, and the resume point once there is one.
  v1::StreamLinkEventsRequest Request() const;
  // WatchLinkEvents (false: StreamLinkEvents, for a daemon older than it).
  bool batched() const { return batched_; }
  // The next call should wait for the daemon to be back (gRPC's wait_for_ready).
  bool reconnecting() const { return reconnecting_; }

  // One event of the current call: prints it, and moves the resume point.
  void OnEvent(const v1::LinkEvent& event);

  enum class Next {
    kCallAgain,  // at once (WatchLinkEvents is unknown to this daemon: StreamLinkEvents)
    kReconnect,  // after backoff()
    kGiveUp,     // print `status` and exit 1
  };
  // The current call ended with `status` (and was not interrupted).
  Next OnCallEnd(const grpc::Status& status);
  // How long to wait before reconnecting: 200 ms, doubling to 5 s, back to 200 ms once events
  // flow again.
  absl::Duration backoff() const { return backoff_; }

 private:
  void Print(const v1::LinkEvent& event);

  const std::vector<std::string> names_;
  const bool json_;
  std::ostream& out_;
  std::ostream& err_;
  const absl::TimeZone zone_;
  std::map<std::string, v1::PortState> ports_;  // the last state seen of each port
  std::vector<v1::PortState> snapshot_;         // of the snapshot being received
  uint64_t last_sequence_ = 0;
  std::string instance_;
  absl::Duration backoff_ = absl::Milliseconds(200);
  bool connected_once_ = false;
  bool reconnecting_ = false;
  bool batched_ = true;
  bool got_any_ = false;  // in the current call
};

}  // namespace portsyncd::ctl

#endif  // PORTSYNCD_CLIENT_WATCH_SESSION_H_
