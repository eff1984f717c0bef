// PortSelection: which netdevs portsyncd follows, by name: shell patterns (fnmatch(3), case
// sensitive) to include, and patterns to exclude from what they include.
//
// The default on a SONiC switch is upstream's rule (docs/COMPATIBILITY.md 3.1): a name starting
// with "Ethernet" or "PortChannel". That includes multi-ASIC backplane and inband ports
// (Ethernet-BP*, Ethernet-IB*, Ethernet-Rec*), as upstream does. Without a SONiC database (host
// mode) the default is every netdev but the loopback. The other rules of COMPATIBILITY 3 (team
// links, a DELLINK with a master, old interfaces) apply to what is selected, as before.
//
// A value: copy it freely. Matching a name against the default costs two prefix compares (a
// pattern "<text>*" with no other wildcard is a prefix, one with none an equality; the rest go to
// fnmatch).
#ifndef PORTSYNCD_CORE_PORT_SELECTION_H_
#define PORTSYNCD_CORE_PORT_SELECTION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portsyncd {

class PortSelection {
 public:
  // Upstream's rule: include Ethernet* PortChannel*, exclude nothing.
  static PortSelection Sonic();
  // The same, shared (for a check on a hot path).
  static const PortSelection& Upstream();
  // Host mode's: include *, exclude lo.
  static PortSelection Host();
  // Checks each pattern (ValidatePattern) and the two lists together: an empty include list, an
  // exclude pattern "*", or a pattern in both lists select nothing, or contradict themselves.
  // The error names the list ("include" or "exclude") and the pattern.
  [[nodiscard]] static absl::StatusOr<PortSelection> Create(std::vector<std::string> include,
                                                            std::vector<std::string> exclude);
  // A pattern that can match a netdev name: not empty, at most 255 bytes, no character a name
  // cannot hold ('/', ':', whitespace, control characters), brackets closed, no trailing '\', and
  // not a literal longer than a name can be (15 bytes).
  [[nodiscard]] static absl::Status ValidatePattern(absl::string_view pattern);

  bool Selects(absl::string_view name) const;
  // Every name this selects, `other` selects too, as their patterns show it: this includes
  // only patterns `other` includes and excludes every pattern `other` excludes. (False does not
  // prove the opposite: two different lists may select the same names.)
  bool SelectsNoMoreThan(const PortSelection& other) const;
  const std::vector<std::string>& include() const { return include_; }
  const std::vector<std::string>& exclude() const { return exclude_; }
  // "include Ethernet* PortChannel*" or "include * exclude lo", for logs and health.
  std::string Describe() const;
  bool operator==(const PortSelection& o) const {
    return include_ == o.include_ && exclude_ == o.exclude_;
  }

 private:
  struct Matcher {
    enum class Kind { kEqual, kPrefix, kGlob };
    Kind kind;
    std::string text;  // the name (kEqual), the prefix (kPrefix) or the pattern (kGlob)
    bool Matches(absl::string_view name) const;
  };
  static Matcher Compile(const std::string& pattern);
  PortSelection(std::vector<std::string> include, std::vector<std::string> exclude);

  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
  std::vector<Matcher> include_matchers_;
  std::vector<Matcher> exclude_matchers_;
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_PORT_SELECTION_H_
