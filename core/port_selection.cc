#include "core/port_selection.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/link_event.h"

namespace portsyncd {
namespace {

constexpr size_t kMaxPatternLength = 255;

bool IsWildcard(char c) { return c == '*' || c == '?' || c == '['; }

// The end of the bracket expression opened at pattern[open] (the index of its ']'), or npos.
size_t BracketEnd(absl::string_view pattern, size_t open) {
  size_t j = open + 1;
  if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;  // a leading ']' is a member
  while (j < pattern.size()) {
    if (pattern[j] == ']') return j;
    if (pattern[j] == '[' && j + 1 < pattern.size() &&
        (pattern[j + 1] == ':' || pattern[j + 1] == '.' || pattern[j + 1] == '=')) {
      // [:class:], [.coll.], [=equiv=]: up to the matching ":]" (".]", "=]").
      const char kind = pattern[j + 1];
      const size_t close = pattern.find(absl::StrCat(std::string(1, kind), "]"), j + 2);
      if (close == absl::string_view::npos) return absl::string_view::npos;
      j = close + 2;
      continue;
    }
    ++j;
  }
  return absl::string_view::npos;
}

}  // namespace

PortSelection::PortSelection(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(std::move(include)), exclude_(std::move(exclude)) {
  for (const std::string& p : include_) include_matchers_.push_back(Compile(p));
  for (const std::string& p : exclude_) exclude_matchers_.push_back(Compile(p));
}

PortSelection PortSelection::Sonic() { return PortSelection({"Ethernet*", "PortChannel*"}, {}); }

const PortSelection& PortSelection::Upstream() {
  static const PortSelection& upstream = *new PortSelection(Sonic());
  return upstream;
}

PortSelection PortSelection::Host() { return PortSelection({"*"}, {"lo"}); }

absl::Status PortSelection::ValidatePattern(absl::string_view pattern) {
  if (pattern.empty()) return absl::InvalidArgumentError("a pattern must not be empty");
  if (pattern.size() > kMaxPatternLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pattern '", pattern.substr(0, 32), "...' is longer than ", kMaxPatternLength, " bytes"));
  }
  size_t literal_length = 0;
  bool wildcard = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\') {
      if (i + 1 == pattern.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pattern '", pattern, "' ends in a lone '\\' (escape what?)"));
      }
      ++i;
      ++literal_length;
      continue;
    }
    if (c == '[') {
      const size_t end = BracketEnd(pattern, i);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("pattern '", pattern, "' has a '[' without its closing ']'"));
      }
      wildcard = true;
      i = end;
      continue;
    }
    if (u < 0x21 || u == 0x7f || c == '/' || c == ':') {
      return absl::InvalidArgumentError(absl::StrCat(
          "pattern '", absl::CHexEscape(pattern),
          "' holds a character no interface name can (whitespace, a control character, '/' "
          "or ':'), so it matches nothing"));
    }
    if (IsWildcard(c)) {
      wildcard = true;
    } else {
      ++literal_length;
    }
  }
  if (!wildcard && literal_length > kMaxInterfaceNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("pattern '", pattern, "' is longer than an interface name can be (",
                     kMaxInterfaceNameLength, " bytes) and has no wildcard: it matches nothing"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PortSelection> PortSelection::Create(std::vector<std::string> include,
                                                    std::vector<std::string> exclude) {
  for (const std::string& p : include) {
    if (absl::Status s = ValidatePattern(p); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("include: ", s.message()));
    }
  }
  for (const std::string& p : exclude) {
    if (absl::Status s = ValidatePattern(p); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("exclude: ", s.message()));
    }
    if (p == "*") {
      return absl::InvalidArgumentError(
          "exclude: '*' excludes every interface; nothing would be followed");
    }
    if (std::find(include.begin(), include.end(), p) != include.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("exclude: '", p, "' is also in include; say which one you mean"));
    }
  }
  if (include.empty()) {
    return absl::InvalidArgumentError(
        "include: an empty list selects no interface; name patterns, or leave the key out for "
        "the default");
  }
  return PortSelection(std::move(include), std::move(exclude));
}

PortSelection::Matcher PortSelection::Compile(const std::string& pattern) {
  // A backslash makes it fnmatch's: the fast paths take the text as it is.
  const bool escaped = pattern.find('\\') != std::string::npos;
  const size_t first_wildcard =
      std::find_if(pattern.begin(), pattern.end(), IsWildcard) - pattern.begin();
  if (!escaped && first_wildcard == pattern.size()) return {Matcher::Kind::kEqual, pattern};
  if (!escaped && first_wildcard + 1 == pattern.size() && pattern.back() == '*') {
    return {Matcher::Kind::kPrefix, pattern.substr(0, first_wildcard)};
  }
  return {Matcher::Kind::kGlob, pattern};
}

bool PortSelection::Matcher::Matches(absl::string_view name) const {
  switch (kind) {
    case Kind::kEqual:
      return name == text;
    case Kind::kPrefix:
      return absl::StartsWith(name, text);
    case Kind::kGlob:
      break;
  }
  // fnmatch wants NUL-terminated text; a netdev name fits the buffer.
  char buffer[64];
  if (name.size() < sizeof(buffer)) {
    std::memcpy(buffer, name.data(), name.size());
    buffer[name.size()] = '\0';
    return fnmatch(text.c_str(), buffer, 0) == 0;
  }
  return fnmatch(text.c_str(), std::string(name).c_str(), 0) == 0;
}

bool PortSelection::Selects(absl::string_view name) const {
  const auto matches = [name](const Matcher& m) { return m.Matches(name); };
  return std::any_of(include_matchers_.begin(), include_matchers_.end(), matches) &&
         std::none_of(exclude_matchers_.begin(), exclude_matchers_.end(), matches);
}

bool PortSelection::SelectsNoMoreThan(const PortSelection& other) const {
  auto in = [](const std::vector<std::string>& list, const std::string& p) {
    return std::find(list.begin(), list.end(), p) != list.end();
  };
  return std::all_of(include_.begin(), include_.end(),
                     [&](const std::string& p) { return in(other.include_, p); }) &&
         std::all_of(other.exclude_.begin(), other.exclude_.end(),
                     [&](const std::string& p) { return in(exclude_, p); });
}

std::string PortSelection::Describe() const {
  return absl::StrCat(
      "include ", absl::StrJoin(include_, " "),
      exclude_.empty() ? "" : absl::StrCat(" exclude ", absl::StrJoin(exclude_, " ")));
}

}  // namespace portsyncd
