#include "server/port_state_proto.h"

#include <linux/if.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portsyncd {

absl::Status ValidatePortName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("port name is empty");
  if (name.size() > kMaxInterfaceNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("port name '", name.substr(0, 32), "' is ",
                                                   name.size(), " bytes, longer than ",
                                                   kMaxInterfaceNameLength));
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("port name '", absl::CHexEscape(name),
                       "' contains a control character, whitespace or '/'"));
    }
  }
  return absl::OkStatus();
}

bool NaturalLess(absl::string_view a, absl::string_view b) {
  auto split = [](absl::string_view s) {
    size_t i = s.size();
    while (i > 0 && absl::ascii_isdigit(static_cast<unsigned char>(s[i - 1]))) --i;
    uint64_t number = 0;
    const bool has_number = i < s.size() && absl::SimpleAtoi(s.substr(i), &number);
    return std::make_tuple(s.substr(0, i), has_number, number, s);
  };
  return split(a) < split(b);
}

bool IsTracked(const Port& port) { return port.in_kernel || port.in_config_db || port.in_appl_db; }

void ToProto(absl::Time time, google::protobuf::Timestamp* out) {
  const timespec ts = absl::ToTimespec(time);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

void ToProto(const PortModel& model, const Port& port, v1::PortState* out) {
  ToProto(port, model.pending().contains(port.name), out);
}

void ToProto(const Port& port, bool pending, v1::PortState* out) {
  out->set_name(port.name);
  out->set_in_kernel(port.in_kernel);
  out->set_in_appl_db(port.in_appl_db);
  out->set_in_config_db(port.in_config_db);
  out->set_state_db_in_sync(port.state_db_in_sync());
  out->set_pending(pending);
  if (port.in_kernel) {
    const StateFields fields = port.fields();
    out->set_ifindex(port.ifindex);
    out->set_admin_status(fields.admin_up ? v1::LINK_STATUS_UP : v1::LINK_STATUS_DOWN);
    out->set_oper_status(fields.oper_up ? v1::LINK_STATUS_UP : v1::LINK_STATUS_DOWN);
    out->set_mtu(port.mtu);
    out->set_mac_address(port.mac);
    out->set_master_ifindex(static_cast<int32_t>(port.master));
    if (port.oper_last_change != absl::InfinitePast())
      ToProto(port.oper_last_change, out->mutable_oper_last_change());
    if (port.netdev_since != absl::InfinitePast())
      ToProto(port.netdev_since, out->mutable_netdev_since());
    out->mutable_counters()->set_carrier_changes(port.carrier_changes);
    out->mutable_counters()->set_carrier_up(port.carrier_up_count);
    out->mutable_counters()->set_carrier_down(port.carrier_down_count);
  }
  if (port.last_change != absl::InfinitePast())
    ToProto(port.last_change, out->mutable_last_change());
  out->mutable_counters()->set_oper_flaps(port.oper_flaps);
  out->mutable_counters()->set_changes(port.changes);
}

}  // namespace portsyncd
