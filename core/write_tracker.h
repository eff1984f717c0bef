// WriteTracker: tells our own STATE_DB writes from someone else's, and collects what keyspace
// notifications ask the writer to do (docs/COMPATIBILITY.md 7.8).
//
// Our writes are told apart by counting: before the writer sends a batch it records, per port,
// how many notifications the batch will cause (Expect*); each notification consumes one
// (OnEvent). A notification nobody expected is someone else's: the port becomes a suspect and
// the writer checks it. A command that notified nothing (a DEL of a missing key, a refused
// command) has its expectation taken back (TakeBack); when it was already consumed, that was by
// someone else's write that landed between our command and its reply, so the port becomes a
// suspect then.
//
// Threads: OnEvent and OnSubscribed run on the keyspace watcher's threads; Expect*, TakeBack and
// Clear on both threads that write STATE_DB (the writer, and the engine thread's DirectWriter:
// counting per key works whichever connection a write took; a Clear by one costs the other's
// writes in transit a check each, never a missed foreign write); Take and AddSuspects on the
// writer thread. Owns its maps under its own mutex (never held while calling anything). Pure
// logic otherwise: no I/O, no clock.
#ifndef PORTSYNCD_CORE_WRITE_TRACKER_H_
#define PORTSYNCD_CORE_WRITE_TRACKER_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/port_model.h"

namespace portsyncd {

// What a keyspace subscription watches (the KeyspaceWatch tag).
enum class WatchTag : int {
  kState = 1,   // STATE_DB PORT_TABLE: our keys
  kAppl = 2,    // APPL_DB PORT_TABLE: orchagent's entries
  kLogger = 3,  // CONFIG_DB LOGGER|portsyncd
};

class WriteTracker {
 public:
  // What one notification meant.
  enum class Verdict {
    kIgnored,  // not a port key, or another LOGGER key
    kOurs,     // the notification of one of our writes
    kSuspect,  // someone else touched a port key of ours: check it
    kAppl,     // an APPL_DB port entry changed
    kLogger,   // LOGGER|portsyncd changed
  };
  // The work notifications left for the writer since the last Take().
  struct Work {
    std::vector<std::string> suspects;  // ports to check, sorted
    bool appl = false;
    bool logger = false;
    bool resync = false;  // (re)subscribed: check everything once
    bool empty() const { return suspects.empty() && !appl && !logger && !resync; }
  };

  // Before sending: the notifications these writes will cause.
  void ExpectWrites(const std::vector<StateWrite>& writes);
  void ExpectDeletes(const std::vector<std::string>& names);
  // After the reply: one expected notification will not come. Returns true when
  // it had already been consumed (someone else's write): the port is now a suspect and the
  // writer must run again.
  bool TakeBack(bool del, const std::string& name);
  // Forgets every expectation: after a broken pipeline (unknown what was applied) and before a
  // full audit (expectations of writes whose notification never came would hide someone else's
  // next write). Notifications of writes still in transit then count as someone else's.
  void Clear();
  // Writer thread: a port to check again later (a notified key seen during a re-dump).
  void AddSuspects(const std::vector<std::string>& names);

  // The ports followed (PortModel::selection; upstream's rule until set): notifications of other
  // names are ignored, but for STATE_DB keys upstream's rule would follow (the audit's).
  void SetSelection(PortSelection selection);

  // Watcher threads.
  Verdict OnEvent(WatchTag tag, absl::string_view key_suffix, absl::string_view event);
  void OnSubscribed();

  // Writer thread: takes the work collected so far.
  Work Take();

  // For tests and diagnostics: expectations outstanding for `name`.
  uint32_t expected(bool del, absl::string_view name) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint32_t> expect_hset_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> expect_del_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> suspects_ ABSL_GUARDED_BY(mu_);
  bool appl_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool logger_changed_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_ ABSL_GUARDED_BY(mu_) = false;
  PortSelection selection_ ABSL_GUARDED_BY(mu_) = PortSelection::Sonic();
};

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_WRITE_TRACKER_H_
