// How portsyncctl shows what the API returns: tables, JSON, times, and what changed. Pure
// functions (tests/unit/portsyncctl_test).
#ifndef PORTSYNCD_CLIENT_RENDER_H_
#define PORTSYNCD_CLIENT_RENDER_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "portsyncd/v1/portsyncd.pb.h"

namespace portsyncd::ctl {

namespace v1 = ::portsyncd::v1;

std::string ToJson(const google::protobuf::Message& message, bool multiline);
// "up", "down", "-".
std::string Status(v1::LinkStatus s);
absl::Time FromProto(const google::protobuf::Timestamp& t);
// "just now", "5s ago", "3m ago", "2h ago", "4d ago", "never".
std::string Ago(const google::protobuf::Timestamp& t, absl::Time now);
// The STATE_DB column: "in sync", "pending", "no APPL_DB", "-".
// `database`: false for a daemon in host mode (no STATE_DB to be in sync with: "-").
std::string SyncText(const v1::PortState& p, bool database = true);
// Prints rows as columns two spaces apart, the first row being the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out);
const std::vector<std::string>& PortHeader();
std::vector<std::string> PortRow(const v1::PortState& p, absl::Time now, bool database = true);
// What changed between two states of a port, for people: "oper up -> down, mtu 1500 -> 9100".
std::string Describe(const v1::PortState* before, const v1::PortState& after);

}  // namespace portsyncd::ctl

#endif  // PORTSYNCD_CLIENT_RENDER_H_
