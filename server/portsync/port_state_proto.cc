#include "server/portsync/port_state_proto.h"

#include <linux/if.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace portsyncd {

void ToProto(absl::Time time, google::protobuf::Timestamp* out) {
  const timespec ts = absl::ToTimespec(time);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
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
    out->set_mac_address(port.mac.Text());
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
