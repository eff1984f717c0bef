#include "client/watch_session.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "client/render.h"

namespace portsyncd::ctl {

WatchSession::WatchSession(std::vector<std::string> names, bool json, std::ostream& out,
                           std::ostream& err, absl::TimeZone zone)
    : names_(std::move(names)), json_(json), out_(out), err_(err), zone_(zone) {}

v1::StreamLinkEventsRequest WatchSession::Request() const {
  v1::StreamLinkEventsRequest request;
  for (const std::string& name : names_) request.add_names(name);
  request.set_resume_after(last_sequence_);
  request.set_instance_id(instance_);
  return request;
}

void WatchSession::OnEvent(const v1::LinkEvent& event) {
  got_any_ = true;
  connected_once_ = true;
  if (reconnecting_ && !json_) {
    err_ << "portsyncctl: reconnected"
         << (event.type() == v1::LinkEvent::TYPE_RESYNC ||
                     event.type() == v1::LinkEvent::TYPE_SNAPSHOT
                 ? ""
                 : absl::StrCat("; resuming after sequence ", last_sequence_))
         << "\n";
  }
  reconnecting_ = false;
  backoff_ = absl::Milliseconds(200);
  // The resume point moves only on live events and at SYNCED: a stream that breaks in the
  // middle of a snapshot must get the whole snapshot again, not the events after it.
  const bool live = event.type() == v1::LinkEvent::TYPE_ADDED ||
                    event.type() == v1::LinkEvent::TYPE_CHANGED ||
                    event.type() == v1::LinkEvent::TYPE_REMOVED;
  if (live || event.type() == v1::LinkEvent::TYPE_SYNCED) {
    last_sequence_ = event.sequence();
    instance_ = event.instance_id();
  }
  Print(event);
}

void WatchSession::Print(const v1::LinkEvent& event) {
  if (json_) {
    out_ << ToJson(event, false) << "\n";
    if (event.has_port()) ports_[event.port().name()] = event.port();
    return;
  }
  const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", FromProto(event.time()), zone_);
  switch (event.type()) {
    case v1::LinkEvent::TYPE_RESYNC:
      out_ << when << "  events were missed (" << event.reason() << "); re-reading the state\n";
      snapshot_.clear();
      break;
    case v1::LinkEvent::TYPE_SNAPSHOT:
      snapshot_.push_back(event.port());
      break;
    case v1::LinkEvent::TYPE_SYNCED: {
      size_t up = 0;
      for (const v1::PortState& p : snapshot_) up += p.oper_status() == v1::LINK_STATUS_UP;
      // After a resync, report what changed while we were not looking.
      for (const v1::PortState& p : snapshot_) {
        auto it = ports_.find(p.name());
        if (it != ports_.end() && Describe(&it->second, p) != "no visible change") {
          out_ << when << "  " << absl::StrFormat("%-14s", p.name()) << " CHANGED  "
               << Describe(&it->second, p) << " (while disconnected)\n";
        }
        ports_[p.name()] = p;
      }
      out_ << when << "  watching " << snapshot_.size() << " ports (" << up
           << " oper up), instance " << event.instance_id() << ", sequence " << event.sequence()
           << "\n";
      snapshot_.clear();
      break;
    }
    default: {
      const std::string type =
          std::string(absl::StripPrefix(v1::LinkEvent::Type_Name(event.type()), "TYPE_"));
      auto it = ports_.find(event.port().name());
      out_ << when << "  " << absl::StrFormat("%-14s %-8s", event.port().name(), type) << " "
           << Describe(it == ports_.end() ? nullptr : &it->second, event.port()) << "\n";
      ports_[event.port().name()] = event.port();
    }
  }
}

WatchSession::Next WatchSession::OnCallEnd(const grpc::Status& status) {
  const bool got_any = std::exchange(got_any_, false);
  snapshot_.clear();  // an unfinished snapshot is sent again in full
  if (batched_ && !got_any && status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    batched_ = false;  // a daemon older than WatchLinkEvents
    return Next::kCallAgain;
  }
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
      status.error_code() == grpc::StatusCode::PERMISSION_DENIED || !connected_once_) {
    return Next::kGiveUp;
  }
  if (!reconnecting_) {
    err_ << "portsyncctl: connection lost (" << status.error_message()
         << "); reconnecting, and resuming after sequence " << last_sequence_ << "\n";
    reconnecting_ = true;
  } else {
    backoff_ = std::min(backoff_ * 2, absl::Seconds(5));
  }
  return Next::kReconnect;
}

}  // namespace portsyncd::ctl
