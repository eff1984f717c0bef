// LinkEvent: one rtnetlink link message (RTM_NEWLINK or RTM_DELLINK) as a plain value.
#ifndef PORTSYNCD_CORE_LINK_EVENT_H_
#define PORTSYNCD_CORE_LINK_EVENT_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace portsyncd {

// Linux's IFNAMSIZ (16) includes the terminating NUL: a netdev name is at most 15 bytes.
inline constexpr size_t kMaxInterfaceNameLength = 15;

// A hardware address as the kernel gives it (IFLA_ADDRESS: at most MAX_ADDR_LEN, 32 bytes), held
// inline: a port keeps one, and every change copies its port twice, so a std::string of its text
// was a heap allocation per port and per copy (and a small long-lived one scattered through the
// heap). The text is made when an API asks for it.
class HardwareAddress {
 public:
  static constexpr size_t kMaxBytes = 32;
  // `size` at most kMaxBytes (the parser refuses longer).
  void Assign(const uint8_t* bytes, size_t size) {
    size_ = static_cast<uint8_t>(size < kMaxBytes ? size : kMaxBytes);
    bytes_.fill(0);
    std::memcpy(bytes_.data(), bytes, size_);
  }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // "aa:bb:cc:dd:ee:ff", lower-case; empty when absent.
  std::string Text() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text(size_ == 0 ? 0 : 3 * size_ - 1, ':');
    for (size_t i = 0; i < size_; ++i) {
      text[3 * i] = kHex[bytes_[i] >> 4];
      text[3 * i + 1] = kHex[bytes_[i] & 0xf];
    }
    return text;
  }
  bool operator==(const HardwareAddress&) const = default;

 private:
  uint8_t size_ = 0;
  std::array<uint8_t, kMaxBytes> bytes_{};
};

struct LinkEvent {
  enum class Type { kNewLink, kDelLink };

  Type type = Type::kNewLink;
  uint8_t family = 0;   // ifi_family: AF_UNSPEC, or AF_BRIDGE for a bridge port's copy
  int32_t ifindex = 0;  // ifi_index
  uint32_t flags = 0;   // ifi_flags (IFF_UP, IFF_RUNNING, IFF_LOWER_UP...)
  std::string name;     // IFLA_IFNAME, 1..15 bytes
  uint32_t mtu = 0;     // IFLA_MTU; 0 when absent
  bool has_mtu = false;
  uint32_t master = 0;    // IFLA_MASTER ifindex; 0 when absent
  std::string kind;       // IFLA_LINKINFO/IFLA_INFO_KIND ("veth", "team", "bridge"), may be empty
  uint8_t operstate = 0;  // IFLA_OPERSTATE (IF_OPER_*); 0 (unknown) when absent
  HardwareAddress mac;    // IFLA_ADDRESS; empty when absent
  // The kernel's carrier counters (IFLA_CARRIER_CHANGES, IFLA_CARRIER_UP_COUNT,
  // IFLA_CARRIER_DOWN_COUNT): kept by the netdev, so they survive our restarts, and restart
  // from 0 with a re-created netdev. Absent from AF_BRIDGE copies (has_carrier_counts false).
  bool has_carrier_counts = false;
  uint32_t carrier_changes = 0;
  uint32_t carrier_up_count = 0;
  uint32_t carrier_down_count = 0;

  bool admin_up() const;  // IFF_UP
  bool oper_up() const;   // IFF_RUNNING (SONiC's netdev_oper_status)
  bool operator==(const LinkEvent&) const = default;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_LINK_EVENT_H_
