#include "server/gnmi/gnmi_paths.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/stream/port_names.h"

namespace portsyncd {
namespace {

struct LeafInfo {
  OcLeaf leaf;
  const char* container;  // "" or "counters"
  const char* name;
};
constexpr LeafInfo kLeaves[] = {
    {kLeafName, "", "name"},
    {kLeafOperStatus, "", "oper-status"},
    {kLeafAdminStatus, "", "admin-status"},
    {kLeafMtu, "", "mtu"},
    {kLeafIfindex, "", "ifindex"},
    {kLeafLastChange, "", "last-change"},
    {kLeafCarrierTransitions, "counters", "carrier-transitions"},
    {kLeafInterfaceTransitions, "counters", "interface-transitions"},
    {kLeafLastClear, "counters", "last-clear"},
};

uint64_t Nanos(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : static_cast<uint64_t>(absl::ToUnixNanos(t));
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// One leaf's value: text, or a number (`wide`: 64 bits).
struct LeafValue {
  absl::string_view text;
  uint64_t number = 0;
  bool is_text = false;
  bool wide = false;
};
LeafValue ValueOf(const OcLeaves& port, OcLeaf leaf) {
  switch (leaf) {
    case kLeafName:
      return {.text = port.name, .is_text = true};
    case kLeafOperStatus:
      return {.text = port.oper_up ? "UP" : "DOWN", .is_text = true};
    case kLeafAdminStatus:
      return {.text = port.admin_up ? "UP" : "DOWN", .is_text = true};
    case kLeafMtu:
      return {.number = port.mtu};
    case kLeafIfindex:
      return {.number = port.ifindex};
    case kLeafLastChange:
      return {.number = port.last_change_ns, .wide = true};
    case kLeafCarrierTransitions:
      return {.number = port.carrier_transitions, .wide = true};
    case kLeafInterfaceTransitions:
      return {.number = port.interface_transitions, .wide = true};
    case kLeafLastClear:
      return {.number = port.last_clear_ns, .wide = true};
  }
  return {};
}

// A value in a JSON encoding. Strings and 32-bit numbers are the same in both; RFC 7951
// (JSON_IETF) writes 64-bit integers as strings.
std::string JsonValue(const LeafValue& v, gnmi::Encoding encoding) {
  if (v.is_text) return JsonString(v.text);
  if (encoding == gnmi::JSON_IETF && v.wide) return absl::StrCat("\"", v.number, "\"");
  return absl::StrCat(v.number);
}

void SetValue(const OcLeaves& port, OcLeaf leaf, gnmi::Encoding encoding, gnmi::TypedValue* out) {
  const LeafValue v = ValueOf(port, leaf);
  switch (encoding) {
    case gnmi::JSON:
      out->set_json_val(JsonValue(v, encoding));
      return;
    case gnmi::JSON_IETF:
      out->set_json_ietf_val(JsonValue(v, encoding));
      return;
    default:
      if (v.is_text) {
        out->set_string_val(std::string(v.text));
      } else {
        out->set_uint_val(v.number);
      }
  }
}

void SetPrefix(const std::string* name, const OcFormat& format, gnmi::Path* prefix) {
  prefix->set_origin(format.origin);
  prefix->set_target(format.target);
  if (name == nullptr) return;
  prefix->add_elem()->set_name("interfaces");
  gnmi::PathElem* interface = prefix->add_elem();
  interface->set_name("interface");
  (*interface->mutable_key())["name"] = *name;
}

absl::Status NotFound(const gnmi::Path& prefix, const gnmi::Path& path, absl::string_view why) {
  return absl::NotFoundError(absl::StrCat(
      "path ", PathToString(prefix, path), " is not served: ", why,
      "; portsyncd serves /interfaces/interface[name=*]/state/{name, oper-status, admin-status, "
      "mtu, ifindex, last-change, counters/carrier-transitions, "
      "counters/interface-transitions, counters/last-clear}"));
}

}  // namespace

OcLeaves OcLeavesOf(const Port& port) {
  OcLeaves leaves;
  leaves.name = port.name;
  const StateFields fields = port.fields();
  leaves.oper_up = fields.oper_up;
  leaves.admin_up = fields.admin_up;
  leaves.mtu = port.mtu;
  leaves.ifindex = static_cast<uint32_t>(port.ifindex);
  leaves.last_change_ns = Nanos(port.oper_last_change);
  leaves.carrier_transitions = port.carrier_changes;
  leaves.interface_transitions = port.carrier_up_count + port.carrier_down_count;
  leaves.last_clear_ns = Nanos(port.netdev_since);
  return leaves;
}

uint32_t ChangedLeaves(const OcLeaves& a, const OcLeaves& b) {
  uint32_t changed = 0;
  if (a.name != b.name) changed |= kLeafName;
  if (a.oper_up != b.oper_up) changed |= kLeafOperStatus;
  if (a.admin_up != b.admin_up) changed |= kLeafAdminStatus;
  if (a.mtu != b.mtu) changed |= kLeafMtu;
  if (a.ifindex != b.ifindex) changed |= kLeafIfindex;
  if (a.last_change_ns != b.last_change_ns) changed |= kLeafLastChange;
  if (a.carrier_transitions != b.carrier_transitions) changed |= kLeafCarrierTransitions;
  if (a.interface_transitions != b.interface_transitions) changed |= kLeafInterfaceTransitions;
  if (a.last_clear_ns != b.last_clear_ns) changed |= kLeafLastClear;
  return changed;
}

std::string PathToString(const gnmi::Path& prefix, const gnmi::Path& path) {
  std::string out;
  for (const gnmi::Path* p : {&prefix, &path}) {
    for (const std::string& e : p->element()) absl::StrAppend(&out, "/", e);
    for (const gnmi::PathElem& e : p->elem()) {
      absl::StrAppend(&out, "/", e.name());
      std::vector<std::pair<std::string, std::string>> keys(e.key().begin(), e.key().end());
      std::sort(keys.begin(), keys.end());
      for (const auto& [k, v] : keys) absl::StrAppend(&out, "[", k, "=", v, "]");
    }
  }
  return out.empty() ? "/" : out;
}

absl::StatusOr<OcSelector> ParseOcPath(const gnmi::Path& prefix, const gnmi::Path& path) {
  const std::string text = PathToString(prefix, path);
  if (prefix.element_size() > 0 || path.element_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "path ", text, " uses the deprecated 'element' field; send 'elem' (gNMI 0.4.0 and later)"));
  }
  if (!prefix.origin().empty() && !path.origin().empty() && prefix.origin() != path.origin()) {
    return absl::InvalidArgumentError(absl::StrCat("path ", text, ": the prefix's origin '",
                                                   prefix.origin(), "' and the path's origin '",
                                                   path.origin(), "' differ"));
  }
  const std::string& origin = path.origin().empty() ? prefix.origin() : path.origin();
  if (!origin.empty() && origin != "openconfig" && origin != "openconfig-interfaces") {
    return absl::UnimplementedError(
        absl::StrCat("origin '", origin,
                     "' is not served; portsyncd serves OpenConfig interfaces with origin '', "
                     "'openconfig' or 'openconfig-interfaces'"));
  }
  std::vector<const gnmi::PathElem*> elems;
  for (const gnmi::Path* p : {&prefix, &path}) {
    for (const gnmi::PathElem& e : p->elem()) elems.push_back(&e);
  }
  OcSelector selector;
  selector.leaves = kAllLeaves;
  for (size_t i = 0; i < elems.size(); ++i) {
    const gnmi::PathElem& e = *elems[i];
    absl::string_view name = e.name();
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("path ", text, ": element ", i + 1, " has an empty name"));
    }
    if (i != 1 && e.key_size() > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("path ", text, ": '", name, "' is not a list and takes no keys"));
    }
    // A module-qualified first element, as JSON_IETF writes it.
    if (i == 0) absl::ConsumePrefix(&name, "openconfig-interfaces:");
    if (name == "*" && i != 3 && i != 4) continue;  // a wildcard element matches what we serve
    switch (i) {
      case 0:
        if (name != "interfaces") return NotFound(prefix, path, "unknown top-level container");
        break;
      case 1:
        if (name != "interface") return NotFound(prefix, path, "unknown element under interfaces");
        for (const auto& [key, value] : e.key()) {
          if (key != "name") {
            return absl::InvalidArgumentError(
                absl::StrCat("path ", text, ": interface has one key, 'name', not '", key, "'"));
          }
          if (value == "*") continue;
          if (absl::Status s = ValidatePortName(value); !s.ok()) {
            return absl::InvalidArgumentError(absl::StrCat("path ", text, ": ", s.message()));
          }
          selector.port = value;
        }
        break;
      case 2:
        if (name != "state") {
          return NotFound(prefix, path, "only the interface's 'state' container is served");
        }
        break;
      case 3: {
        if (name == "*") break;
        if (name == "counters") {
          selector.leaves = kCounterLeaves;
          break;
        }
        uint32_t leaf = 0;
        for (const LeafInfo& info : kLeaves) {
          if (info.container[0] == '\0' && name == info.name) leaf = info.leaf;
        }
        if (leaf == 0) return NotFound(prefix, path, absl::StrCat("no leaf '", name, "'"));
        selector.leaves = leaf;
        break;
      }
      case 4: {
        if (selector.leaves != kCounterLeaves) {
          return NotFound(prefix, path, "leaves have no children");
        }
        if (name == "*") break;
        uint32_t leaf = 0;
        for (const LeafInfo& info : kLeaves) {
          if (absl::string_view(info.container) == "counters" && name == info.name) {
            leaf = info.leaf;
          }
        }
        if (leaf == 0) return NotFound(prefix, path, absl::StrCat("no counter '", name, "'"));
        selector.leaves = leaf;
        break;
      }
      default:
        return NotFound(prefix, path, "leaves have no children");
    }
  }
  return selector;
}

absl::Status CheckEncoding(gnmi::Encoding encoding) {
  if (encoding == gnmi::PROTO || encoding == gnmi::JSON || encoding == gnmi::JSON_IETF) {
    return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat("encoding ", gnmi::Encoding_Name(encoding),
                                               " is not supported; use JSON, JSON_IETF or PROTO"));
}

void BuildUpdate(const OcLeaves& port, uint32_t leaves, int64_t timestamp_ns,
                 const OcFormat& format, uint32_t duplicates, gnmi::Notification* out) {
  out->set_timestamp(timestamp_ns);
  SetPrefix(&port.name, format, out->mutable_prefix());
  for (const LeafInfo& info : kLeaves) {
    if ((leaves & info.leaf) == 0) continue;
    gnmi::Update* update = out->add_update();
    gnmi::Path* path = update->mutable_path();
    path->add_elem()->set_name("state");
    if (info.container[0] != '\0') path->add_elem()->set_name(info.container);
    path->add_elem()->set_name(info.name);
    SetValue(port, info.leaf, format.encoding, update->mutable_val());
    if (duplicates > 0) update->set_duplicates(duplicates);
  }
}

namespace {

// Protocol buffer wire format, for EncodeUpdateResponse: fields are written in field-number
// order, and proto3 fields at their default are left out, as the C++ serializer does.
void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}
void PutTag(std::string& out, uint32_t field, uint32_t wire_type) {
  PutVarint(out, uint64_t{field} << 3 | wire_type);
}
void PutUint(std::string& out, uint32_t field, uint64_t value) {
  PutTag(out, field, 0);
  PutVarint(out, value);
}
void PutBytes(std::string& out, uint32_t field, absl::string_view bytes) {
  PutTag(out, field, 2);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// gnmi.proto's field numbers (../shared/spec/gnmi.md), by message.
enum : uint32_t { kResponseUpdate = 1 };  // SubscribeResponse
enum : uint32_t { kNotificationTimestamp = 1, kNotificationPrefix = 2, kNotificationUpdate = 4 };
enum : uint32_t { kPathOrigin = 2, kPathElem = 3, kPathTarget = 4 };
enum : uint32_t { kElemName = 1, kElemKey = 2 };     // PathElem
enum : uint32_t { kEntryKey = 1, kEntryValue = 2 };  // PathElem's map<string, string> entry
enum : uint32_t { kUpdatePath = 1, kUpdateVal = 3, kUpdateDuplicates = 4 };
enum : uint32_t { kValString = 1, kValUint = 3, kValJson = 10, kValJsonIetf = 11 };  // TypedValue

// Update.path of each leaf (state/<leaf>, or state/counters/<leaf>), as the field's bytes.
const std::vector<std::string>& LeafPathFields() {
  static const auto* fields = [] {
    auto* out = new std::vector<std::string>;
    for (const LeafInfo& info : kLeaves) {
      std::string path, elem;
      for (const char* name : {"state", info.container, info.name}) {
        if (name[0] == '\0') continue;
        elem.clear();
        PutBytes(elem, kElemName, name);
        PutBytes(path, kPathElem, elem);
      }
      std::string field;
      PutBytes(field, kUpdatePath, path);
      out->push_back(std::move(field));
    }
    return out;
  }();
  return *fields;
}

// SetValue's TypedValue, as its bytes.
void PutValue(std::string& out, const OcLeaves& port, OcLeaf leaf, gnmi::Encoding encoding) {
  const LeafValue v = ValueOf(port, leaf);
  switch (encoding) {
    case gnmi::JSON:
      PutBytes(out, kValJson, JsonValue(v, encoding));
      return;
    case gnmi::JSON_IETF:
      PutBytes(out, kValJsonIetf, JsonValue(v, encoding));
      return;
    default:
      if (v.is_text) {
        PutBytes(out, kValString, v.text);
      } else {
        PutUint(out, kValUint, v.number);
      }
  }
}

}  // namespace

SharedBytes EncodeUpdateResponse(const OcLeaves& port, uint32_t leaves, int64_t timestamp_ns,
                                 const OcFormat& format, uint32_t duplicates) {
  // Scratch buffers, kept by the thread so that encoding allocates nothing once they have grown.
  thread_local std::string notification, prefix, elem, entry, update, value;
  notification.clear();
  if (timestamp_ns != 0) PutUint(notification, kNotificationTimestamp, timestamp_ns);
  // prefix: origin, /interfaces/interface[name=X], target.
  prefix.clear();
  if (!format.origin.empty()) PutBytes(prefix, kPathOrigin, format.origin);
  elem.clear();
  PutBytes(elem, kElemName, "interfaces");
  PutBytes(prefix, kPathElem, elem);
  entry.clear();
  PutBytes(entry, kEntryKey, "name");
  PutBytes(entry, kEntryValue, port.name);
  elem.clear();
  PutBytes(elem, kElemName, "interface");
  PutBytes(elem, kElemKey, entry);
  PutBytes(prefix, kPathElem, elem);
  if (!format.target.empty()) PutBytes(prefix, kPathTarget, format.target);
  PutBytes(notification, kNotificationPrefix, prefix);
  const std::vector<std::string>& paths = LeafPathFields();
  for (size_t i = 0; i < std::size(kLeaves); ++i) {
    if ((leaves & kLeaves[i].leaf) == 0) continue;
    update.assign(paths[i]);
    value.clear();
    PutValue(value, port, kLeaves[i].leaf, format.encoding);
    PutBytes(update, kUpdateVal, value);
    if (duplicates > 0) PutUint(update, kUpdateDuplicates, duplicates);
    PutBytes(notification, kNotificationUpdate, update);
  }
  std::string& response = update;  // reused: the last update is in `notification` already
  response.clear();
  PutBytes(response, kResponseUpdate, notification);
  grpc::Slice slice(response.data(), response.size());
  return std::make_shared<const grpc::ByteBuffer>(&slice, 1);
}

void BuildDelete(const std::string& name, int64_t timestamp_ns, const OcFormat& format,
                 gnmi::Notification* out) {
  out->set_timestamp(timestamp_ns);
  SetPrefix(nullptr, format, out->mutable_prefix());
  gnmi::Path* path = out->add_delete_();
  path->add_elem()->set_name("interfaces");
  gnmi::PathElem* interface = path->add_elem();
  interface->set_name("interface");
  (*interface->mutable_key())["name"] = name;
}

}  // namespace portsyncd
