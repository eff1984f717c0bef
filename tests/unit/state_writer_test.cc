// StateWriter against FakeRedis and a FakeClock: every retry, backoff and timer path, the
// reconcile's ownership rules and the two notification races, each provoked on purpose and
// decided by the test, never by scheduling. (The same paths run against the real kernel and
// Redis in tests/integration: test_resilience, test_keyspace, test_faults.)
#include "core/state_writer.h"

#include <net/if.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_redis.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;

constexpr int kAppl = 0;
constexpr int kConfig = 4;
constexpr int kState = 6;

class StateWriterTest : public ::testing::Test {
 protected:
  StateWriterTest() {
    endpoints_.appl = {"APPL_DB", kAppl, ":", "/fake/redis.sock"};
    endpoints_.config = {"CONFIG_DB", kConfig, "|", "/fake/redis.sock"};
    endpoints_.state = {"STATE_DB", kState, "|", "/fake/redis.sock"};
  }

  void MakeWriter(bool notifications = false) {
    writer_ = std::make_unique<StateWriter>(options_, endpoints_, shared_, counters_, redis_,
                                            clock_, notifications ? &tracker_ : nullptr);
  }
  // A port the kernel and APPL_DB both have.
  void KernelPort(const std::string& name, int32_t ifindex, uint32_t mtu = 1500) {
    LinkEvent e;
    e.ifindex = ifindex;
    e.name = name;
    e.flags = IFF_UP | IFF_RUNNING;
    e.mtu = mtu;
    e.has_mtu = true;
    absl::MutexLock lock(&shared_.mu);
    shared_.model.SetInApplDb(name);
    shared_.model.Apply(e, clock_.Now());
  }
  void KernelDelete(const std::string& name, int32_t ifindex) {
    LinkEvent e;
    e.type = LinkEvent::Type::kDelLink;
    e.ifindex = ifindex;
    e.name = name;
    absl::MutexLock lock(&shared_.mu);
    shared_.model.Apply(e, clock_.Now());
  }
  void InitialDumpDone() {
    absl::MutexLock lock(&shared_.mu);
    shared_.initial_dump_done = true;
  }
  // The time the writer would sleep until, as a distance from now.
  absl::Duration Sleep() {
    absl::MutexLock lock(&shared_.mu);
    return writer_->NextDeadlineLocked() - clock_.Now();
  }
  bool TakeWake() { return shared_.writer.TakeWake(); }
  std::string State(const std::string& name, const std::string& field) {
    FakeRedis::Hash* hash = redis_.FindHash(kState, "PORT_TABLE|" + name);
    if (hash == nullptr || hash->count(field) == 0) return "<none>";
    return hash->at(field);
  }
  void Step(int times = 1) {
    for (int i = 0; i < times; ++i) writer_->Step(/*stop=*/false);
  }
  // Connected, initial reconcile done, first timers run: the writer's steady state.
  void Settle() {
    InitialDumpDone();
    Step(2);
    ASSERT_TRUE(writer_->connected());
    ASSERT_TRUE(writer_->port_init_done());
  }

  EngineOptions options_;  // audit 5 s, LOGGER poll 1 s, APPL poll 100 ms, backstop 60 s
  DbEndpoints endpoints_;
  SharedModel shared_;
  EngineCounters counters_;
  FakeRedis redis_;
  FakeClock clock_;
  WriteTracker tracker_;
  std::unique_ptr<StateWriter> writer_;
};

TEST_F(StateWriterTest, DuringTheInitialDumpOnlyThePortsItShowedAreWritten) {
  // From a previous run: a key of ours whose netdev is gone, and one of a port the dump has
  // not reached yet.
  redis_.SetField(kState, "PORT_TABLE|Ethernet8", "state", "ok");
  redis_.SetField(kState, "PORT_TABLE|Ethernet4", "state", "ok");
  MakeWriter();
  {
    absl::MutexLock lock(&shared_.mu);
    EXPECT_EQ(writer_->NextDeadlineLocked(), absl::InfinitePast());  // connect at once
  }
  KernelPort("Ethernet0", 10);  // the dump's first batch
  Step();
  EXPECT_EQ(redis_.connects, 3);       // CONFIG_DB, APPL_DB, STATE_DB
  EXPECT_EQ(redis_.count("SCAN"), 1);  // STATE_DB's keys, read once while the dump runs
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(State("Ethernet0", "state"), "ok");
  // Nothing that needs the whole kernel: no key deleted, no PortInitDone, no reconcile.
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Ethernet8"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Ethernet4"));
  EXPECT_FALSE(redis_.Exists(kAppl, "_PORT_TABLE:PortInitDone"));
  EXPECT_EQ(counters_.reconciles.load(), 0u);
  EXPECT_FALSE(writer_->initial_write_done());
  {
    absl::MutexLock lock(&shared_.mu);
    EXPECT_EQ(writer_->NextDeadlineLocked(), absl::InfiniteFuture());  // until the next batch
  }
  KernelPort("Ethernet4", 11);  // the next batch
  Step();
  EXPECT_EQ(State("Ethernet4", "mtu"), "1500");
  EXPECT_EQ(redis_.count("HSET"), 2);
  EXPECT_EQ(redis_.count("SCAN"), 1);
  InitialDumpDone();
  Step();
  // The reconcile judges the keys read before the dump: no second SCAN, and no port rewritten,
  // since every one was written on this connection.
  EXPECT_EQ(redis_.count("SCAN"), 1);
  EXPECT_EQ(redis_.count("HSET"), 2);
  EXPECT_FALSE(redis_.Exists(kState, "PORT_TABLE|Ethernet8"));  // stale, deleted
  EXPECT_EQ(State("Ethernet4", "state"), "ok");
  EXPECT_EQ(counters_.reconciles.load(), 1u);
  EXPECT_TRUE(redis_.Exists(kAppl, "_PORT_TABLE:PortInitDone"));
  EXPECT_TRUE(writer_->initial_write_done());
}

TEST_F(StateWriterTest, NothingIsWrittenOnStopBeforeTheInitialDump) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  writer_->Step(/*stop=*/true);
  EXPECT_EQ(redis_.connects, 0);
  EXPECT_EQ(State("Ethernet0", "mtu"), "<none>");
}

TEST_F(StateWriterTest, AConnectionBrokenDuringTheInitialDumpRewritesEveryPortAfterIt) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Step();
  ASSERT_EQ(State("Ethernet0", "mtu"), "1500");
  // Redis restarted empty while the dump ran: what the writer wrote is gone.
  redis_.Delete(kState, "PORT_TABLE|Ethernet0");
  redis_.BreakConnections();
  KernelPort("Ethernet4", 11);
  Step();  // the write meets the broken connection
  EXPECT_FALSE(writer_->connected());
  Step();  // connects again, reads the keys again, writes Ethernet4
  EXPECT_EQ(redis_.count("SCAN"), 2);
  EXPECT_EQ(State("Ethernet0", "mtu"), "<none>");
  InitialDumpDone();
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");  // rewritten: every port, not only the dirty
  EXPECT_EQ(State("Ethernet4", "mtu"), "1500");
  EXPECT_EQ(counters_.reconciles.load(), 1u);
}

TEST_F(StateWriterTest, ARefusedReconcileIsRetriedAtTheAuditPeriodNeverInALoop) {
  redis_.SetString(kState, "PORT_TABLE|Ethernet0", "someone else's string");
  MakeWriter();
  KernelPort("Ethernet0", 10);
  KernelPort("Ethernet4", 11);
  InitialDumpDone();
  Step(100);  // the clock does not move: a retry loop would refuse 100 times
  EXPECT_EQ(redis_.errors, 1);
  EXPECT_EQ(State("Ethernet4", "mtu"), "1500");  // the rest is written
  EXPECT_TRUE(writer_->initial_write_done());
  EXPECT_EQ(Sleep(), absl::Seconds(1));  // the LOGGER poll; nothing Redis refused
  clock_.Advance(absl::Seconds(4));
  Step(100);
  EXPECT_EQ(redis_.errors, 1);
  EXPECT_EQ(Sleep(), absl::Seconds(1));  // reconcile and audit: both at 5 s
  clock_.Advance(absl::Seconds(1));
  Step(100);
  // At the period, once each: the audit's HMGET (the key's type) and its HSET. The reconcile
  // runs again too, but on the first connection it looks for stale keys only: the refused port
  // is the audit's to retry.
  EXPECT_EQ(redis_.errors, 3);
  EXPECT_EQ(counters_.redis_errors.load(), 2u);
  // Once the key is fixed, the next period writes it.
  redis_.Delete(kState, "PORT_TABLE|Ethernet0");
  clock_.Advance(absl::Seconds(5));
  Step(2);
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(redis_.errors, 3);
}

TEST_F(StateWriterTest, ARefusedPortInitDoneIsRetriedEverySecondAndAtOnceOnANewConnection) {
  redis_.SetString(kAppl, "_PORT_TABLE:PortInitDone", "wrong type");
  MakeWriter();
  KernelPort("Ethernet0", 10);
  InitialDumpDone();
  Step(100);
  EXPECT_EQ(redis_.count("EVAL"), 1);
  EXPECT_FALSE(writer_->port_init_done());
  EXPECT_EQ(Sleep(), kPortInitDoneRetry);
  clock_.Advance(kPortInitDoneRetry - absl::Milliseconds(1));
  Step(100);
  EXPECT_EQ(redis_.count("EVAL"), 1);
  clock_.Advance(absl::Milliseconds(1));
  Step(100);
  EXPECT_EQ(redis_.count("EVAL"), 2);
  // A new connection tries at once (after the reconnect's reconcile).
  redis_.Delete(kAppl, "_PORT_TABLE:PortInitDone");
  redis_.BreakConnections();
  KernelPort("Ethernet0", 10, 9100);  // a write, to meet the broken connection
  Step();
  EXPECT_FALSE(writer_->connected());
  Step();
  EXPECT_TRUE(writer_->connected());
  EXPECT_EQ(redis_.count("EVAL"), 3);
  EXPECT_TRUE(writer_->port_init_done());
}

TEST_F(StateWriterTest, AnUnreachableRedisIsRetriedWithCappedExponentialBackoff) {
  redis_.down = true;
  options_.reconnect_max = absl::Milliseconds(500);
  MakeWriter();
  KernelPort("Ethernet0", 10);
  InitialDumpDone();
  std::vector<int64_t> sleeps_ms;
  for (int i = 0; i < 7; ++i) {
    Step(10);  // only the first of these is due
    EXPECT_EQ(redis_.connects, i + 1);
    sleeps_ms.push_back(absl::ToInt64Milliseconds(Sleep()));
    clock_.Advance(Sleep());
  }
  EXPECT_THAT(sleeps_ms, ElementsAre(50, 100, 200, 400, 500, 500, 500));
  redis_.down = false;
  Step();
  EXPECT_TRUE(writer_->connected());
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  // A healthy pass resets the backoff.
  redis_.down = true;
  KernelPort("Ethernet0", 10, 9100);
  Step();  // the write meets the broken connection: reconnect at once (it had worked)
  EXPECT_EQ(Sleep(), absl::ZeroDuration());
  Step();
  EXPECT_EQ(Sleep(), absl::Milliseconds(50));
}

TEST_F(StateWriterTest, AReconnectRewritesEveryPortNotJustTheDirtyOnes) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  KernelPort("Ethernet4", 11);
  Settle();
  redis_.SetField(kState, "PORT_TABLE|Ethernet4", "mtu", "1");  // lost while we were away
  redis_.BreakConnections();
  KernelPort("Ethernet0", 10, 9100);
  Step();
  EXPECT_FALSE(writer_->connected());
  EXPECT_EQ(counters_.reconciles.load(), 1u);
  Step();
  EXPECT_EQ(counters_.reconciles.load(), 2u);
  EXPECT_EQ(State("Ethernet0", "mtu"), "9100");
  EXPECT_EQ(State("Ethernet4", "mtu"), "1500");
}

TEST_F(StateWriterTest, TheAuditRepairsDriftAtItsPeriod) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Settle();
  redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "1");
  clock_.Advance(absl::Seconds(5) - absl::Milliseconds(1));
  Step(10);
  EXPECT_EQ(State("Ethernet0", "mtu"), "1");
  clock_.Advance(absl::Milliseconds(1));
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(counters_.drift_repairs.load(), 1u);
}

// The audit reads STATE_DB on the writer's connection while the engine thread writes on its own.
// Here the audit's read sees the port before a write of ours that the engine thread then sends
// and completes before the audit compares: what the audit read is older than what we wrote, not
// drift. (Issue 17: 1,769 ports "repaired" at 100,000 ports with nobody else writing.)
TEST_F(StateWriterTest, OurOwnWriteLandingDuringTheAuditIsNotDrift) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Settle();
  redis_.intercept = [&](int db, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (db != kState || argv[0] != "HMGET" || argv[1] != "PORT_TABLE|Ethernet0") {
      return std::nullopt;
    }
    redis_.intercept = nullptr;
    // The audit reads what STATE_DB holds now...
    RedisReply read;
    read.type = RedisReply::Type::kArray;
    for (const char* field : {"netdev_oper_status", "state", "admin_status", "mtu"}) {
      RedisReply value;
      value.type = RedisReply::Type::kString;
      value.str = State("Ethernet0", field);
      read.elements.push_back(value);
    }
    // ...then the engine thread's direct connection writes a change and sees it answered.
    KernelPort("Ethernet0", 10, 9100);
    absl::MutexLock lock(&shared_.mu);
    std::vector<StateWrite> writes = shared_.model.TakeDirty();
    EXPECT_EQ(writes.size(), 1u);
    redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "9100");
    for (const StateWrite& write : writes) shared_.model.CompleteWrite(write, /*ok=*/true);
    return read;
  };
  clock_.Advance(absl::Seconds(5));  // the audit
  Step();
  EXPECT_EQ(redis_.intercept, nullptr);  // the audit did read the port
  EXPECT_EQ(counters_.drift_repairs.load(), 0u);
  EXPECT_EQ(State("Ethernet0", "mtu"), "9100");
  absl::MutexLock lock(&shared_.mu);
  EXPECT_TRUE(shared_.model.Find("Ethernet0")->state_db_in_sync());
}

// At 100,000 ports the audit held the model lock for ~150 ms per pass (a lookup per key): now
// it judges audit_slice ports per hold, walking the model alongside its sorted keys.
TEST_F(StateWriterTest, TheAuditLetsTheEngineInBetweenSlicesAndStillRepairsEverything) {
  options_.audit_slice = 2;
  MakeWriter();
  for (int i = 0; i < 7; ++i) KernelPort(absl::StrCat("Ethernet", i * 4), 10 + i);
  Settle();
  // Drift in the first and the last slice, a stale key of ours among them, and a port the
  // kernel changes while the audit is under way.
  redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "1");
  redis_.SetField(kState, "PORT_TABLE|Ethernet24", "mtu", "2");
  redis_.SetField(kState, "PORT_TABLE|Ethernet13", "state", "ok");
  int between = 0;
  bool always_free = true;
  writer_->set_between_slices_for_test([&] {
    ++between;
    if (!shared_.mu.TryLock()) {
      always_free = false;
      return;
    }
    shared_.mu.Unlock();
    if (between == 1) KernelPort("Ethernet20", 15, 9100);  // changed: its write is the check
  });
  clock_.Advance(absl::Seconds(5));  // the audit
  Step();
  // Eight keys (seven ports and the stale one) in slices of two, twice (plan and verdict), the
  // stale candidate in one: at least seven releases of the lock.
  EXPECT_GE(between, 7);
  EXPECT_TRUE(always_free);
  EXPECT_EQ(counters_.drift_repairs.load(), 3u) << "two ports repaired, one stale key deleted";
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(State("Ethernet24", "mtu"), "1500");
  EXPECT_EQ(State("Ethernet20", "mtu"), "9100");
  EXPECT_EQ(State("Ethernet13", "state"), "<none>");
}

TEST_F(StateWriterTest, WithNotificationsOnTheAuditIsOnlyABackstop) {
  MakeWriter(/*notifications=*/true);
  KernelPort("Ethernet0", 10);
  writer_->set_keyspace_active(true);
  Settle();
  EXPECT_EQ(Sleep(), absl::Seconds(60));  // idle: no poll wakes the writer before the backstop
  redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "1");  // FLUSHDB-like: not notified
  clock_.Advance(absl::Seconds(59));
  Step(10);
  EXPECT_EQ(State("Ethernet0", "mtu"), "1");
  clock_.Advance(absl::Seconds(1));
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  // Notifications off: the polls are back at their own periods.
  writer_->set_keyspace_active(false);
  EXPECT_EQ(Sleep(), absl::Seconds(1));
}

TEST_F(StateWriterTest, TheReconcileDeletesOnlyKeysThatAreOurs) {
  // Ours and stale: a port name, our `state` field, no netdev.
  redis_.SetField(kState, "PORT_TABLE|Ethernet8", "state", "ok");
  // Someone else's: no `state` field.
  redis_.SetField(kState, "PORT_TABLE|Ethernet12", "speed", "100000");
  // An old interface's (docs/COMPATIBILITY.md 2 step 6): left alone.
  redis_.SetField(kState, "PORT_TABLE|Ethernet16", "state", "ok");
  // Not a port name.
  redis_.SetField(kState, "PORT_TABLE|Vlan100", "state", "ok");
  // A netdev APPL_DB does not know yet: not written, not deleted.
  redis_.SetField(kState, "PORT_TABLE|Ethernet20", "state", "ok");
  MakeWriter();
  KernelPort("Ethernet0", 10);
  {
    absl::MutexLock lock(&shared_.mu);
    shared_.model.AddOldInterface(16, "Ethernet16");
    LinkEvent e;
    e.ifindex = 20;
    e.name = "Ethernet20";
    e.flags = IFF_UP;
    shared_.model.Apply(e, clock_.Now());
  }
  Settle();
  EXPECT_FALSE(redis_.Exists(kState, "PORT_TABLE|Ethernet8"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Ethernet12"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Ethernet16"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Vlan100"));
  EXPECT_EQ(State("Ethernet20", "state"), "ok");
  EXPECT_EQ(State("Ethernet20", "mtu"), "<none>");
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
}

TEST_F(StateWriterTest, TheReconcileDeletesOurKeysOfPortsTheSelectionLeavesOut) {
  // Ours, excluded by the operator: a key of a run that followed it (upstream's rule does).
  redis_.SetField(kState, "PORT_TABLE|Ethernet4", "state", "ok");
  // Ours, selected, no netdev: stale as always.
  redis_.SetField(kState, "PORT_TABLE|eth9", "state", "ok");
  // Not ours to judge: followed by neither rule.
  redis_.SetField(kState, "PORT_TABLE|Vlan100", "state", "ok");
  // Someone else's, excluded: no `state` field.
  redis_.SetField(kState, "PORT_TABLE|Ethernet-BP0", "speed", "100000");
  MakeWriter();
  {
    absl::MutexLock lock(&shared_.mu);
    absl::StatusOr<PortSelection> s =
        PortSelection::Create({"Ethernet*", "eth*"}, {"Ethernet4", "Ethernet-BP*"});
    ASSERT_TRUE(s.ok()) << s.status();
    (void)shared_.model.SetSelection(*s, clock_.Now());
  }
  KernelPort("Ethernet0", 10);
  KernelPort("Ethernet4", 11);  // in the kernel and APPL_DB, but excluded
  KernelPort("eth1", 12);
  Settle();
  EXPECT_FALSE(redis_.Exists(kState, "PORT_TABLE|Ethernet4"));
  EXPECT_FALSE(redis_.Exists(kState, "PORT_TABLE|eth9"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Vlan100"));
  EXPECT_TRUE(redis_.Exists(kState, "PORT_TABLE|Ethernet-BP0"));
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(State("eth1", "mtu"), "1500");
}

// Delivers the notifications Redis has sent so far for STATE_DB PORT_TABLE to the tracker, as
// the keyspace watcher would; returns the verdicts.
std::vector<WriteTracker::Verdict> Deliver(FakeRedis& redis, WriteTracker& tracker) {
  std::vector<WriteTracker::Verdict> verdicts;
  for (const FakeRedis::Notification& n : std::exchange(redis.notifications, {})) {
    if (n.db != kState || n.key.rfind("PORT_TABLE|", 0) != 0) continue;
    verdicts.push_back(
        tracker.OnEvent(WatchTag::kState, n.key.substr(sizeof("PORT_TABLE|") - 1), n.event));
  }
  return verdicts;
}

TEST_F(StateWriterTest, OurOwnWritesAreNotChecked) {
  MakeWriter(/*notifications=*/true);
  KernelPort("Ethernet0", 10);
  writer_->set_keyspace_active(true);
  Settle();
  Deliver(redis_, tracker_);
  KernelPort("Ethernet0", 10, 9100);
  Step();
  EXPECT_THAT(Deliver(redis_, tracker_), ElementsAre(WriteTracker::Verdict::kOurs));
  EXPECT_TRUE(tracker_.Take().empty());
  // Someone else's write is.
  redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "1");
  redis_.notifications.push_back({kState, "PORT_TABLE|Ethernet0", "hset"});
  EXPECT_THAT(Deliver(redis_, tracker_), ElementsAre(WriteTracker::Verdict::kSuspect));
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "9100");
}

TEST_F(StateWriterTest, SomeoneElsesDelBetweenOurDelAndItsReplyMakesTheKeyASuspect) {
  MakeWriter(/*notifications=*/true);
  KernelPort("Ethernet0", 10);
  writer_->set_keyspace_active(true);
  Settle();
  Deliver(redis_, tracker_);
  // Someone else deletes the key just before our DEL runs; their notification arrives while
  // our DEL's expectation is outstanding, so it is taken for ours. Ours then deletes nothing.
  std::vector<WriteTracker::Verdict> theirs;
  const int hexists_before = redis_.count("HEXISTS");
  KernelDelete("Ethernet0", 10);
  redis_.intercept = [&](int db, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (db == kState && argv[0] == "DEL" && argv[1] == "PORT_TABLE|Ethernet0") {
      redis_.intercept = nullptr;
      redis_.Delete(kState, "PORT_TABLE|Ethernet0");
      theirs = {tracker_.OnEvent(WatchTag::kState, "Ethernet0", "del")};
    }
    return std::nullopt;
  };
  Step();
  EXPECT_THAT(theirs, ElementsAre(WriteTracker::Verdict::kOurs));
  // Our DEL notified nothing, and its expectation was already used: theirs was the write that
  // landed, so the key is checked (the stale-key check, HEXISTS) in the same pass.
  EXPECT_EQ(redis_.count("HEXISTS"), hexists_before + 1);
  EXPECT_EQ(tracker_.expected(/*del=*/true, "Ethernet0"), 0u);
  EXPECT_TRUE(tracker_.Take().empty());
}

TEST_F(StateWriterTest, ANotifiedKeyOfADirtyPortIsRewrittenThoughTheWriteLooksRedundant) {
  MakeWriter(/*notifications=*/true);
  KernelPort("Ethernet0", 10);
  KernelPort("Ethernet4", 11);
  writer_->set_keyspace_active(true);
  Settle();
  Deliver(redis_, tracker_);
  // While our batch for Ethernet4 is in flight: the kernel moves Ethernet0's MTU away and back
  // (dirty, but identical to what we wrote), and someone else sets its mtu in STATE_DB.
  KernelPort("Ethernet4", 11, 9100);
  redis_.intercept = [&](int db, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (db == kState && argv[0] == "HSET" && argv[1] == "PORT_TABLE|Ethernet4") {
      redis_.intercept = nullptr;
      KernelPort("Ethernet0", 10, 9100);
      KernelPort("Ethernet0", 10, 1500);
      redis_.SetField(kState, "PORT_TABLE|Ethernet0", "mtu", "1");
      EXPECT_EQ(tracker_.OnEvent(WatchTag::kState, "Ethernet0", "hset"),
                WriteTracker::Verdict::kSuspect);
    }
    return std::nullopt;
  };
  Step();
  // Repaired in the same pass, not at the next audit a minute away.
  EXPECT_EQ(State("Ethernet0", "mtu"), "1500");
  EXPECT_EQ(State("Ethernet4", "mtu"), "9100");
}

TEST_F(StateWriterTest, APortChangedWhileItsWriteIsInFlightIsWrittenNext) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Settle();
  KernelPort("Ethernet0", 10, 9100);
  redis_.intercept = [&](int db, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (db == kState && argv[0] == "HSET" && argv[1] == "PORT_TABLE|Ethernet0") {
      redis_.intercept = nullptr;
      KernelPort("Ethernet0", 10, 4000);  // the engine thread, while our write is in flight
    }
    return std::nullopt;
  };
  TakeWake();
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "9100");
  EXPECT_TRUE(TakeWake());  // nobody else would take it: the writer runs again
  Step();
  EXPECT_EQ(State("Ethernet0", "mtu"), "4000");
}

TEST_F(StateWriterTest, APortCreatedDuringTheAuditsDeleteOfItsKeyWaitsForIt) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Settle();
  redis_.SetField(kState, "PORT_TABLE|Ethernet8", "state", "ok");  // stale: no netdev
  bool held = false;
  redis_.intercept = [&](int db, const RedisArgv& argv) -> std::optional<RedisReply> {
    if (db == kState && argv[0] == "DEL" && argv[1] == "PORT_TABLE|Ethernet8") {
      redis_.intercept = nullptr;
      KernelPort("Ethernet8", 12);  // re-created while the DEL is on its way
      absl::MutexLock lock(&shared_.mu);
      // The engine thread's connection could not take it now (its HSET could land first).
      held = !shared_.model.HasDirty() && shared_.model.TakeDirty().empty();
    }
    return std::nullopt;
  };
  clock_.Advance(absl::Seconds(5));  // the audit
  Step();
  EXPECT_TRUE(held);
  Step();
  EXPECT_EQ(State("Ethernet8", "mtu"), "1500");  // written after the DEL, so it stays
}

TEST_F(StateWriterTest, StopFlushesWhatIsQueued) {
  MakeWriter();
  KernelPort("Ethernet0", 10);
  Settle();
  KernelPort("Ethernet0", 10, 9100);
  writer_->Step(/*stop=*/true);
  EXPECT_EQ(State("Ethernet0", "mtu"), "9100");
}

}  // namespace
}  // namespace portsyncd
