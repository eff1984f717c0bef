#include "core/write_tracker.h"

#include <utility>

namespace portsyncd {
namespace {

// Uses up one expected notification for `name`; false when none was expected.
bool Consume(absl::flat_hash_map<std::string, uint32_t>& expected, absl::string_view name) {
  auto it = expected.find(name);
  if (it == expected.end()) return false;
  if (--it->second == 0) expected.erase(it);
  return true;
}

}  // namespace

void WriteTracker::ExpectWrites(const std::vector<StateWrite>& writes) {
  absl::MutexLock lock(&mu_);
  for (const StateWrite& write : writes) {
    if (write.del) ++expect_del_[write.name];
    if (write.set) ++expect_hset_[write.name];
  }
}

void WriteTracker::ExpectDeletes(const std::vector<std::string>& names) {
  absl::MutexLock lock(&mu_);
  for (const std::string& name : names) ++expect_del_[name];
}

bool WriteTracker::TakeBack(bool del, const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (Consume(del ? expect_del_ : expect_hset_, name)) return false;
  // Already consumed, by a notification that was not ours (someone else's DEL or HSET landed
  // between our command and its reply): that key needs a check.
  suspects_.insert(name);
  return true;
}

void WriteTracker::Clear() {
  absl::MutexLock lock(&mu_);
  expect_hset_.clear();
  expect_del_.clear();
}

void WriteTracker::AddSuspects(const std::vector<std::string>& names) {
  absl::MutexLock lock(&mu_);
  suspects_.insert(names.begin(), names.end());
}

WriteTracker::Verdict WriteTracker::OnEvent(WatchTag tag, absl::string_view key_suffix,
                                            absl::string_view event) {
  absl::MutexLock lock(&mu_);
  switch (tag) {
    case WatchTag::kState:
      // Our own write's notification: expected, nothing to check.
      if ((event == "hset" && Consume(expect_hset_, key_suffix)) ||
          (event == "del" && Consume(expect_del_, key_suffix))) {
        return Verdict::kOurs;
      }
      if (!selection_.Selects(key_suffix) && !PortSelection::Upstream().Selects(key_suffix)) {
        return Verdict::kIgnored;
      }
      suspects_.emplace(key_suffix);
      return Verdict::kSuspect;
    case WatchTag::kAppl:
      if (!selection_.Selects(key_suffix)) return Verdict::kIgnored;
      appl_changed_ = true;
      return Verdict::kAppl;
    case WatchTag::kLogger:
      if (!key_suffix.empty()) return Verdict::kIgnored;  // LOGGER|portsyncd-something
      logger_changed_ = true;
      return Verdict::kLogger;
  }
  return Verdict::kIgnored;
}

void WriteTracker::SetSelection(PortSelection selection) {
  absl::MutexLock lock(&mu_);
  selection_ = std::move(selection);
}

void WriteTracker::OnSubscribed() {
  absl::MutexLock lock(&mu_);
  resync_ = true;
}

WriteTracker::Work WriteTracker::Take() {
  absl::MutexLock lock(&mu_);
  Work work;
  work.suspects.assign(suspects_.begin(), suspects_.end());
  suspects_.clear();
  work.appl = std::exchange(appl_changed_, false);
  work.logger = std::exchange(logger_changed_, false);
  work.resync = std::exchange(resync_, false);
  return work;
}

uint32_t WriteTracker::expected(bool del, absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  const auto& map = del ? expect_del_ : expect_hset_;
  auto it = map.find(name);
  return it == map.end() ? 0 : it->second;
}

}  // namespace portsyncd
