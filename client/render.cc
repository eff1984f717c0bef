#include "client/render.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace portsyncd::ctl {

std::string ToJson(const google::protobuf::Message& message, bool multiline) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = multiline;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!multiline) absl::StripTrailingAsciiWhitespace(&out);
  return out;
}

std::string Status(v1::LinkStatus s) {
  return s == v1::LINK_STATUS_UP ? "up" : s == v1::LINK_STATUS_DOWN ? "down" : "-";
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string Ago(const google::protobuf::Timestamp& t, absl::Time now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "never";
  const absl::Duration d = now - FromProto(t);
  if (d < absl::Seconds(1)) return "just now";
  if (d < absl::Minutes(1)) return absl::StrCat(absl::ToInt64Seconds(d), "s ago");
  if (d < absl::Hours(1)) return absl::StrCat(absl::ToInt64Minutes(d), "m ago");
  if (d < absl::Hours(48)) return absl::StrCat(absl::ToInt64Hours(d), "h ago");
  return absl::StrCat(absl::ToInt64Hours(d) / 24, "d ago");
}

std::string SyncText(const v1::PortState& p, bool database) {
  if (!p.in_kernel() || !database) return "-";
  if (!p.in_appl_db()) return "no APPL_DB";
  return p.state_db_in_sync() ? "in sync" : "pending";
}

void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i], std::string(widths[i] - row[i].size() + 2, ' '));
    }
    out << std::string(absl::StripTrailingAsciiWhitespace(line)) << "\n";
  }
}

const std::vector<std::string>& PortHeader() {
  static const auto* header = new std::vector<std::string>{
      "PORT", "ADMIN", "OPER", "MTU", "IFINDEX", "STATE_DB", "LAST CHANGE", "FLAPS"};
  return *header;
}

std::vector<std::string> PortRow(const v1::PortState& p, absl::Time now, bool database) {
  return {p.name(),
          Status(p.admin_status()),
          Status(p.oper_status()),
          p.in_kernel() ? absl::StrCat(p.mtu()) : "-",
          p.in_kernel() ? absl::StrCat(p.ifindex()) : "-",
          SyncText(p, database),
          Ago(p.last_change(), now),
          p.in_kernel() ? absl::StrCat(p.counters().carrier_down()) : "-"};
}

std::string Describe(const v1::PortState* before, const v1::PortState& after) {
  std::vector<std::string> parts;
  auto diff = [&](absl::string_view what, const std::string& a, const std::string& b) {
    if (a != b) parts.push_back(absl::StrCat(what, " ", a, " -> ", b));
  };
  if (before != nullptr && !before->in_kernel() && !after.in_kernel()) {
    return before->in_appl_db() == after.in_appl_db() ? "no visible change"
           : after.in_appl_db()                       ? "now in APPL_DB, no netdev"
                                                      : "gone from APPL_DB, no netdev";
  }
  if (before == nullptr || !before->in_kernel()) {
    if (!after.in_kernel()) return after.in_appl_db() ? "in APPL_DB, no netdev" : "no netdev";
    return absl::StrCat("admin ", Status(after.admin_status()), ", oper ",
                        Status(after.oper_status()), ", mtu ", after.mtu(), ", ifindex ",
                        after.ifindex());
  }
  if (!after.in_kernel()) return "netdev deleted";
  diff("admin", Status(before->admin_status()), Status(after.admin_status()));
  diff("oper", Status(before->oper_status()), Status(after.oper_status()));
  diff("mtu", absl::StrCat(before->mtu()), absl::StrCat(after.mtu()));
  diff("ifindex", absl::StrCat(before->ifindex()), absl::StrCat(after.ifindex()));
  diff("master", absl::StrCat(before->master_ifindex()), absl::StrCat(after.master_ifindex()));
  diff("mac", before->mac_address(), after.mac_address());
  if (before->in_appl_db() != after.in_appl_db()) {
    parts.push_back(after.in_appl_db() ? "now in APPL_DB" : "gone from APPL_DB");
  }
  return parts.empty() ? "no visible change" : absl::StrJoin(parts, ", ");
}

}  // namespace portsyncd::ctl
