// PortModel: docs/COMPATIBILITY.md 3's rules and the write planning of section 7.
#include "core/port_model.h"

#include <linux/if.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

LinkEvent NewLink(const std::string& name, int32_t ifindex, uint32_t flags = IFF_UP | IFF_RUNNING,
                  uint32_t mtu = 9100) {
  LinkEvent e;
  e.type = LinkEvent::Type::kNewLink;
  e.name = name;
  e.ifindex = ifindex;
  e.flags = flags;
  e.mtu = mtu;
  e.has_mtu = true;
  return e;
}

LinkEvent DelLink(const std::string& name, int32_t ifindex, uint32_t master = 0) {
  LinkEvent e;
  e.type = LinkEvent::Type::kDelLink;
  e.name = name;
  e.ifindex = ifindex;
  e.master = master;
  return e;
}

StateWrite Set(const std::string& name, bool admin, bool oper, uint32_t mtu, bool del = false) {
  return StateWrite{name, del, StateFields{admin, oper, mtu}};
}

StateWrite Del(const std::string& name) { return StateWrite{name, true, std::nullopt}; }

// Takes the dirty writes and records them as written, as the writer does after success.
std::vector<StateWrite> Flush(PortModel& model) {
  std::vector<StateWrite> writes = model.TakeDirty();
  for (const StateWrite& w : writes) model.CompleteWrite(w, /*ok=*/true);
  return writes;
}

class PortModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.SetInApplDb("Ethernet0");
    model_.SetInApplDb("Ethernet4");
    model_.SetInApplDb("PortChannel1");
  }
  PortModel model_;
};

TEST_F(PortModelTest, OnlyEthernetAndPortChannelNamesCount) {
  for (const char* name : {"eth0", "lo", "Vlan10", "ethernet0", "Bridge", "xEthernet0"}) {
    EXPECT_EQ(model_.Apply(NewLink(name, 5), kNow), ApplyOutcome::kIgnoredName) << name;
  }
  EXPECT_EQ(model_.Apply(NewLink("PortChannel1", 6), kNow), ApplyOutcome::kAdded);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("PortChannel1", true, true, 9100)));
}

TEST_F(PortModelTest, KeepsTheKernelsCarrierCountersAndWhenOperLastChanged) {
  const absl::Time t1 = kNow + absl::Seconds(1), t2 = kNow + absl::Seconds(2);
  LinkEvent e = NewLink("Ethernet0", 5);
  e.has_carrier_counts = true;
  e.carrier_changes = 2;
  e.carrier_up_count = 1;
  e.carrier_down_count = 1;
  ASSERT_EQ(model_.Apply(e, kNow), ApplyOutcome::kAdded);
  const Port* port = model_.Find("Ethernet0");
  EXPECT_EQ(port->oper_last_change, kNow);
  EXPECT_EQ(port->netdev_since, kNow);
  EXPECT_EQ(port->carrier_changes, 2u);
  // A message without the counters (an AF_BRIDGE copy) keeps them; an MTU change is not an
  // oper change.
  LinkEvent bridge = NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 1500);
  bridge.family = AF_BRIDGE;
  EXPECT_EQ(model_.Apply(bridge, t1), ApplyOutcome::kChanged);
  EXPECT_EQ(port->carrier_changes, 2u);
  EXPECT_EQ(port->oper_last_change, kNow);
  // Carrier lost: the counters move, and so does the oper change time.
  e.flags = IFF_UP;
  e.carrier_changes = 3;
  e.carrier_down_count = 2;
  EXPECT_EQ(model_.Apply(e, t2), ApplyOutcome::kChanged);
  EXPECT_EQ(port->carrier_changes, 3u);
  EXPECT_EQ(port->carrier_up_count, 1u);
  EXPECT_EQ(port->carrier_down_count, 2u);
  EXPECT_EQ(port->oper_last_change, t2);
  EXPECT_EQ(port->netdev_since, kNow);
  // Counters alone changed (a flap too fast for the flags to show): still a change.
  e.carrier_changes = 5;
  e.carrier_up_count = 2;
  e.carrier_down_count = 3;
  EXPECT_EQ(model_.Apply(e, t2), ApplyOutcome::kChanged);
  EXPECT_EQ(port->oper_last_change, t2);
}

TEST_F(PortModelTest, TeamLinksAreIgnored) {
  LinkEvent team = NewLink("PortChannel1", 6);
  team.kind = "team";
  EXPECT_EQ(model_.Apply(team, kNow), ApplyOutcome::kIgnoredTeam);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
}

TEST_F(PortModelTest, DellinkWithMasterIsIgnored) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  EXPECT_EQ(model_.Apply(DelLink("Ethernet0", 5, /*master=*/9), kNow),
            ApplyOutcome::kIgnoredDelWithMaster);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
}

TEST_F(PortModelTest, NewlinkWithMasterIsProcessed) {
  LinkEvent e = NewLink("Ethernet0", 5);
  e.master = 9;
  EXPECT_EQ(model_.Apply(e, kNow), ApplyOutcome::kAdded);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, DellinkWithoutMasterDeletesTheKey) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  EXPECT_EQ(model_.Apply(DelLink("Ethernet0", 5), kNow), ApplyOutcome::kRemoved);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0")));
}

TEST_F(PortModelTest, DellinkDeletesEvenWithoutApplDbEntry) {
  EXPECT_EQ(model_.Apply(DelLink("Ethernet99", 50), kNow), ApplyOutcome::kRemoved);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet99")));
}

TEST_F(PortModelTest, OldInterfaceMessagesAreIgnoredForever) {
  model_.AddOldInterface(5, "Ethernet0");
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5), kNow), ApplyOutcome::kIgnoredOldInterface);
  EXPECT_EQ(model_.Apply(DelLink("Ethernet0", 5), kNow), ApplyOutcome::kIgnoredOldInterface);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
  // The same name under a new ifindex (orchagent re-created it) is a port again.
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 12), kNow), ApplyOutcome::kAdded);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, FieldsFollowIffUpAndIffRunning) {
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_LOWER_UP), kNow);  // dormant
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, false, 9100)));
  model_.Apply(NewLink("Ethernet0", 5, 0, 1500), kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", false, false, 1500)));
}

TEST_F(PortModelTest, BurstForOnePortBecomesOneWriteOfTheLatestState) {
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING), kNow);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 1500), kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 1500)));
}

TEST_F(PortModelTest, WriteIdenticalToTheLastIsSkipped) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.Apply(NewLink("Ethernet0", 5), kNow);  // e.g. an AF_BRIDGE copy
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
}

TEST_F(PortModelTest, DeleteThenRecreateKeepsBothSteps) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.Apply(DelLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 6), kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100, /*del=*/true)));
}

TEST_F(PortModelTest, NewlinkBeforeApplDbEntryIsRememberedAndPublishedLater) {
  EXPECT_EQ(model_.Apply(NewLink("Ethernet8", 7), kNow), ApplyOutcome::kAdded);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
  EXPECT_THAT(model_.AwaitingApplDb(), ElementsAre("Ethernet8"));
  EXPECT_TRUE(model_.SetInApplDb("Ethernet8"));
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet8", true, true, 9100)));
  EXPECT_THAT(model_.AwaitingApplDb(), IsEmpty());
}

TEST_F(PortModelTest, ANewNetdevUnknownToApplDbAsksForAnImmediateCheckOnce) {
  EXPECT_FALSE(model_.TakeNewlyAwaiting());
  model_.Apply(NewLink("Ethernet0", 5), kNow);  // known to APPL_DB
  EXPECT_FALSE(model_.TakeNewlyAwaiting());
  model_.Apply(NewLink("Ethernet8", 7), kNow);
  EXPECT_TRUE(model_.TakeNewlyAwaiting());
  EXPECT_FALSE(model_.TakeNewlyAwaiting());
  model_.Apply(NewLink("Ethernet8", 7, IFF_UP), kNow);  // same netdev again
  EXPECT_FALSE(model_.TakeNewlyAwaiting());
}

TEST_F(PortModelTest, DeletedNetdevNoLongerAwaitsApplDb) {
  model_.Apply(NewLink("Ethernet8", 7), kNow);
  EXPECT_TRUE(model_.HasAwaitingApplDb());
  model_.Apply(DelLink("Ethernet8", 7), kNow);
  EXPECT_FALSE(model_.HasAwaitingApplDb());
  EXPECT_THAT(model_.AwaitingApplDb(), IsEmpty());
}

TEST_F(PortModelTest, PendingClearsOnlyWhenAKnownPortAppears) {
  model_.AddConfigPort("Ethernet0");
  model_.AddConfigPort("Ethernet8");
  EXPECT_FALSE(model_.pending_empty());
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet8", 7), kNow);  // not in APPL_DB yet: still pending
  EXPECT_THAT(model_.pending(), ElementsAre("Ethernet8"));
  model_.SetInApplDb("Ethernet8");
  EXPECT_TRUE(model_.pending_empty());
}

TEST_F(PortModelTest, DumpEndRemovesPortsTheDumpDidNotShowAndRewritesTheRest) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  Flush(model_);
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  EXPECT_THAT(model_.EndDump(kNow), ElementsAre("Ethernet0"));
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0"), Set("Ethernet4", true, true, 9100)));
}

TEST_F(PortModelTest, ADumpEndWithoutRewriteLeavesWhatWasWrittenDuringIt) {
  // The initial dump: each port written as the dump goes (the writer does not wait for its end).
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  EXPECT_THAT(model_.EndDump(kNow, /*complete=*/true, /*rewrite=*/false), IsEmpty());
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet4", true, true, 9100)))
      << "Ethernet0 is written once";
  // The next dump (a resync) still marks its ports seen from scratch.
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  EXPECT_THAT(model_.EndDump(kNow), ElementsAre("Ethernet0"));
}

TEST_F(PortModelTest, InterruptedDumpRemovesNothing) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.BeginDump();
  EXPECT_THAT(model_.EndDump(kNow, /*complete=*/false), IsEmpty());
  EXPECT_FALSE(model_.dump_in_progress());
  EXPECT_TRUE(model_.Find("Ethernet0")->in_kernel);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
}

TEST_F(PortModelTest, DellinkDuringDumpIsNotResurrected) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(DelLink("Ethernet0", 5), kNow);
  model_.EndDump(kNow);
  EXPECT_FALSE(model_.Find("Ethernet0")->in_kernel);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0")));
}

// Linux (6.x) reads a dump's links without the lock that orders link changes and their
// notifications: a dump entry can be older than a live message queued before it. Applied, it
// would take the port back to an old state, and once the links stop changing nothing corrects
// it (seen in the storm benchmark: STATE_DB stale for good after an overflow's re-dump).
TEST_F(PortModelTest, ADumpEntryNoNewerThanALiveMessageSinceTheDumpBeganIsNotApplied) {
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 1500), kNow);
  Flush(model_);
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 2000), kNow);  // live, newest
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 1500), kNow,
                         PortModel::Source::kDump),
            ApplyOutcome::kUnchanged);
  EXPECT_THAT(model_.EndDump(kNow), IsEmpty()) << "the live message showed it";
  EXPECT_EQ(model_.Find("Ethernet0")->mtu, 2000u);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 2000)));
}

TEST_F(PortModelTest, ALiveDellinkDuringADumpIsNotUndoneByTheDumpsOlderEntry) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.BeginDump();
  model_.Apply(DelLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 5), kNow, PortModel::Source::kDump);
  model_.EndDump(kNow);
  EXPECT_FALSE(model_.Find("Ethernet0")->in_kernel);
}

TEST_F(PortModelTest, ADumpEntryRepairsAPortWhoseLiveMessagesWereLost) {
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 1500), kNow);
  model_.Apply(NewLink("Ethernet4", 6, IFF_UP | IFF_RUNNING, 1500), kNow);
  Flush(model_);
  model_.BeginDump();  // after an overflow that lost Ethernet0's change to 9000
  model_.Apply(NewLink("Ethernet4", 6, IFF_UP | IFF_RUNNING, 1600), kNow);  // live
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP | IFF_RUNNING, 9000), kNow, PortModel::Source::kDump);
  model_.Apply(NewLink("Ethernet4", 6, IFF_UP | IFF_RUNNING, 1500), kNow,
               PortModel::Source::kDump);  // older than the live 1600
  model_.EndDump(kNow);
  EXPECT_EQ(model_.Find("Ethernet0")->mtu, 9000u);
  EXPECT_EQ(model_.Find("Ethernet4")->mtu, 1600u);
  // The next dump starts afresh: a live message of the last one does not hide this one's entry.
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet4", 6, IFF_UP | IFF_RUNNING, 1700), kNow, PortModel::Source::kDump);
  model_.EndDump(kNow);
  EXPECT_EQ(model_.Find("Ethernet4")->mtu, 1700u);
}

TEST_F(PortModelTest, RenameRemovesTheOldNameAsADellinkWould) {
  // `ip link set Ethernet0 name Ethernet4`: one NEWLINK for Ethernet4 with Ethernet0's ifindex.
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.TakeChanges();
  EXPECT_EQ(model_.Apply(NewLink("Ethernet4", 5, IFF_UP), kNow), ApplyOutcome::kAdded);
  EXPECT_FALSE(model_.Find("Ethernet0")->in_kernel);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0"), Set("Ethernet4", true, false, 9100)));
  EXPECT_EQ(model_.renames(), 1u);
  std::vector<PortChange> changes = model_.TakeChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].name, "Ethernet0");
  EXPECT_EQ(changes[0].outcome, ApplyOutcome::kRemoved);
  EXPECT_EQ(changes[1].name, "Ethernet4");
  EXPECT_EQ(changes[1].outcome, ApplyOutcome::kAdded);
  // And back: Ethernet4 goes, Ethernet0 returns.
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100), Del("Ethernet4")));
  EXPECT_EQ(model_.renames(), 2u);
}

TEST_F(PortModelTest, RenameToANameThatIsNotAPortStillRemovesTheOldName) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  EXPECT_EQ(model_.Apply(NewLink("eth9", 5), kNow), ApplyOutcome::kIgnoredName);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0")));
  // Later messages for eth9 change nothing.
  model_.Apply(NewLink("eth9", 5, 0), kNow);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());
  EXPECT_EQ(model_.renames(), 1u);
}

TEST_F(PortModelTest, ADellinkRemovesThePortItNamesWhateverItsIfindexWasKnownAs) {
  // Ethernet0 renamed Ethernet4 with the rename's NEWLINK lost (an overflow): the DELLINK of
  // Ethernet4 carries Ethernet0's ifindex. It removes Ethernet4, not Ethernet0 (the next dump
  // does that), though the engine finds known netdevs by ifindex.
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  EXPECT_EQ(model_.Apply(DelLink("Ethernet4", 5), kNow), ApplyOutcome::kRemoved);
  EXPECT_TRUE(model_.Find("Ethernet0")->in_kernel);
  ASSERT_NE(model_.Find("Ethernet4"), nullptr);
  EXPECT_FALSE(model_.Find("Ethernet4")->in_kernel);
  // Ethernet0's own messages still reach it.
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow), ApplyOutcome::kChanged);
  EXPECT_FALSE(model_.Find("Ethernet0")->fields().oper_up);
}

TEST_F(PortModelTest, AnIfindexNoLongerAPortsDoesNotRemoveIt) {
  // Ethernet0 recreated under a new ifindex without a DELLINK for the old one (lost in an
  // overflow); a later netdev with the old ifindex is not a rename of Ethernet0.
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 9), kNow);
  model_.Apply(NewLink("Ethernet4", 5), kNow);
  EXPECT_TRUE(model_.Find("Ethernet0")->in_kernel);
  EXPECT_EQ(model_.renames(), 0u);
  // Nor does one whose port was deleted.
  model_.Apply(DelLink("Ethernet4", 5), kNow);
  model_.Apply(NewLink("PortChannel1", 5), kNow);
  EXPECT_EQ(model_.renames(), 0u);
  EXPECT_TRUE(model_.Find("Ethernet0")->in_kernel);
}

TEST_F(PortModelTest, RenameSeenInADumpRemovesTheOldName) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.BeginDump();
  model_.Apply(NewLink("Ethernet4", 5), kNow);
  model_.EndDump(kNow);
  EXPECT_FALSE(model_.Find("Ethernet0")->in_kernel);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0"), Set("Ethernet4", true, true, 9100)));
}

TEST_F(PortModelTest, ForgetWrittenRewritesEveryPortWithState) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet8", 7), kNow);  // no APPL_DB entry: nothing to write
  Flush(model_);
  model_.ForgetWritten();
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, DriftedPortIsRewrittenEvenIfUnchanged) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.MarkDrifted("Ethernet0");
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, APortWithAWriteInFlightIsNotTakenAgainUntilAnswered) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  std::vector<StateWrite> first = model_.TakeDirty();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_FALSE(model_.Find("Ethernet0")->state_db_in_sync());
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);  // while the first write is in flight
  EXPECT_FALSE(model_.HasDirty());
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());  // a second write could overtake the first
  model_.CompleteWrite(first[0], /*ok=*/true);
  model_.CompleteWrite(first[1], /*ok=*/true);
  EXPECT_TRUE(model_.HasDirty());
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, false, 9100)));
  EXPECT_TRUE(model_.Find("Ethernet0")->state_db_in_sync());
  EXPECT_TRUE(model_.Find("Ethernet4")->state_db_in_sync());
}

TEST_F(PortModelTest, AbandonedWritesAreWrittenAgainDeleteIncluded) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.Apply(DelLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 7), kNow);
  std::vector<StateWrite> lost = model_.TakeDirty();
  EXPECT_THAT(lost, ElementsAre(Set("Ethernet0", true, true, 9100, /*del=*/true)));
  model_.AbandonWrites(lost);  // the connection broke: unknown what ran
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100, /*del=*/true)));
}

TEST_F(PortModelTest, APortDirtiedWhileInFlightIsWrittenAgainEvenIfIdentical) {
  // Drift someone else caused after our write ran leaves the port dirty at its completion:
  // the next write must not be skipped as identical to the one just acknowledged.
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  std::vector<StateWrite> in_flight = model_.TakeDirty();
  model_.MarkDrifted("Ethernet0");
  model_.CompleteWrite(in_flight[0], /*ok=*/true);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, AStaleKeyDeleteHoldsBackAPortOfThatNameUntilAnswered) {
  model_.BeginStaleDeletes({"Ethernet0"});      // the reconcile's DEL, on the writer's connection
  model_.Apply(NewLink("Ethernet0", 5), kNow);  // re-created meanwhile
  EXPECT_FALSE(model_.HasDirty());
  EXPECT_THAT(model_.TakeDirty(), IsEmpty());  // its HSET could land before that DEL
  model_.EndStaleDeletes({"Ethernet0"});
  EXPECT_TRUE(model_.HasDirty());
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, ARefusedWriteLeavesThePortUnwrittenForTheAudit) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  Flush(model_);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);
  std::vector<StateWrite> refused = model_.TakeDirty();
  model_.CompleteWrite(refused[0], /*ok=*/false);
  // STATE_DB may still hold the old fields, which equal nothing we know: rewrite at the audit.
  EXPECT_FALSE(model_.Find("Ethernet0")->written.has_value());
  EXPECT_FALSE(model_.Find("Ethernet0")->state_db_in_sync());
  EXPECT_FALSE(model_.HasDirty());
}

TEST_F(PortModelTest, CountsOperFlapsAndSequence) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);
  EXPECT_EQ(model_.Find("Ethernet0")->oper_flaps, 2u);
  EXPECT_EQ(model_.sequence(), 4u);
  model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow);  // nothing changed
  EXPECT_EQ(model_.sequence(), 4u);
}

TEST_F(PortModelTest, ChangesAreRecordedWithIncreasingSequences) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet0", 5), kNow);  // unchanged: no change recorded
  model_.Apply(NewLink("eth0", 2), kNow);       // ignored
  model_.Apply(NewLink("Ethernet8", 7, IFF_UP), kNow);
  model_.SetInApplDb("Ethernet8", kNow);
  model_.Apply(DelLink("Ethernet0", 5), kNow);
  std::vector<PortChange> changes = model_.TakeChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].name, "Ethernet0");
  EXPECT_EQ(changes[0].outcome, ApplyOutcome::kAdded);
  EXPECT_EQ(changes[1].name, "Ethernet8");
  EXPECT_EQ(changes[2].name, "Ethernet8");  // APPL_DB membership
  EXPECT_EQ(changes[2].outcome, ApplyOutcome::kChanged);
  EXPECT_EQ(changes[3].outcome, ApplyOutcome::kRemoved);
  for (size_t i = 0; i < changes.size(); ++i) EXPECT_EQ(changes[i].sequence, i + 1);
  EXPECT_EQ(model_.sequence(), 4u);
  EXPECT_THAT(model_.TakeChanges(), IsEmpty());
}

TEST_F(PortModelTest, StateDbInSyncFollowsWrites) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  EXPECT_FALSE(model_.Find("Ethernet0")->state_db_in_sync());
  Flush(model_);
  EXPECT_TRUE(model_.Find("Ethernet0")->state_db_in_sync());
  model_.Apply(NewLink("Ethernet8", 7), kNow);  // no APPL_DB entry: nothing of ours to hold
  EXPECT_TRUE(model_.Find("Ethernet8")->state_db_in_sync());
}

TEST_F(PortModelTest, NewlinkWithoutMtuKeepsTheKnownMtu) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  LinkEvent no_mtu = NewLink("Ethernet0", 5, IFF_UP);
  no_mtu.has_mtu = false;
  no_mtu.mtu = 0;
  model_.Apply(no_mtu, kNow);
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, false, 9100)));
}

PortSelection Selection(std::vector<std::string> include, std::vector<std::string> exclude = {}) {
  absl::StatusOr<PortSelection> s = PortSelection::Create(std::move(include), std::move(exclude));
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

TEST_F(PortModelTest, ASelectionFollowsWhatItNamesAndOnlyThat) {
  (void)model_.SetSelection(Selection({"eth*", "Ethernet*"}, {"Ethernet4"}), kNow);
  EXPECT_EQ(model_.Apply(NewLink("eth0", 2), kNow), ApplyOutcome::kAdded);
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5), kNow), ApplyOutcome::kAdded);
  EXPECT_EQ(model_.Apply(NewLink("Ethernet4", 6), kNow), ApplyOutcome::kIgnoredName);
  EXPECT_EQ(model_.Apply(NewLink("PortChannel1", 7), kNow), ApplyOutcome::kIgnoredName);
  // Nothing of the ports left out remains: not their APPL_DB membership, not the pending set.
  EXPECT_EQ(model_.Find("Ethernet4"), nullptr);
  EXPECT_EQ(model_.Find("PortChannel1"), nullptr);
  model_.AddConfigPort("Ethernet4");
  EXPECT_EQ(model_.Find("Ethernet4"), nullptr);
  EXPECT_TRUE(model_.pending_empty());
  EXPECT_FALSE(model_.SetInApplDb("Ethernet4"));
  EXPECT_EQ(model_.Find("Ethernet4"), nullptr) << "APPL_DB membership of a port not followed";
  // eth0 is not in APPL_DB: it waits for it, as any port would.
  EXPECT_THAT(model_.AwaitingApplDb(), ElementsAre("eth0"));
}

TEST_F(PortModelTest, APortTheSelectionLeavesOutIsRemovedAndItsKeyOfOursDeleted) {
  model_.AddConfigPort("Ethernet0");
  model_.AddConfigPort("Ethernet8");  // configured, no netdev yet: pending
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  model_.Apply(NewLink("Ethernet4", 6), kNow);
  model_.Apply(NewLink("Ethernet12", 7), kNow);  // not in APPL_DB: nothing of ours in STATE_DB
  Flush(model_);
  (void)model_.TakeChanges();
  const std::vector<std::string> removed = model_.SetSelection(
      Selection({"Ethernet*"}, {"Ethernet0", "Ethernet8", "Ethernet12"}), kNow + absl::Seconds(1));
  // PortChannel1 (in APPL_DB, no netdev) is not included any more either.
  // In the model's natural order.
  EXPECT_THAT(removed, ElementsAre("Ethernet0", "Ethernet8", "Ethernet12", "PortChannel1"));
  // The streams see each as deleted, the configured port without a netdev too.
  std::vector<PortChange> changes = model_.TakeChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].name, "Ethernet0");
  EXPECT_EQ(changes[0].outcome, ApplyOutcome::kRemoved);
  EXPECT_TRUE(changes[0].before.in_kernel);
  EXPECT_EQ(changes[1].name, "Ethernet8");
  EXPECT_EQ(changes[1].outcome, ApplyOutcome::kRemoved);
  EXPECT_TRUE(changes[1].before.in_config_db);
  EXPECT_FALSE(changes[1].port.in_config_db);
  EXPECT_EQ(changes[2].name, "Ethernet12");
  // STATE_DB: our key of Ethernet0 goes; Ethernet12 never had one (orchagent's fields, if any,
  // stay); Ethernet4 stays as it is.
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0")));
  EXPECT_FALSE(model_.Find("Ethernet0")->in_appl_db);
  EXPECT_FALSE(model_.Find("Ethernet0")->in_config_db);
  // Ethernet8 no longer holds PortInitDone back.
  EXPECT_TRUE(model_.pending_empty());
  // Later messages for a port left out are ignored.
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5, IFF_UP), kNow), ApplyOutcome::kIgnoredName);
  // Taken in again: a netdev like any new one (the caller re-dumps), waiting for APPL_DB.
  (void)model_.SetSelection(PortSelection::Sonic(), kNow + absl::Seconds(2));
  EXPECT_EQ(model_.Apply(NewLink("Ethernet0", 5), kNow), ApplyOutcome::kAdded);
  EXPECT_THAT(model_.AwaitingApplDb(), ElementsAre("Ethernet0"));
  EXPECT_TRUE(model_.SetInApplDb("Ethernet0"));
  EXPECT_THAT(Flush(model_), ElementsAre(Set("Ethernet0", true, true, 9100)));
}

TEST_F(PortModelTest, AWriteInFlightWhenThePortIsLeftOutIsFollowedByItsDelete) {
  model_.Apply(NewLink("Ethernet0", 5), kNow);
  std::vector<StateWrite> in_flight = model_.TakeDirty();
  ASSERT_THAT(in_flight, ElementsAre(Set("Ethernet0", true, true, 9100)));
  (void)model_.SetSelection(Selection({"eth*"}), kNow);
  EXPECT_THAT(model_.TakeDirty(), IsEmpty()) << "the DEL waits for the HSET's reply";
  model_.CompleteWrite(in_flight[0], /*ok=*/true);
  EXPECT_THAT(Flush(model_), ElementsAre(Del("Ethernet0")));
}

TEST(PortModelHostTest, WithoutADatabaseNothingIsPlannedOrAwaitedAndTeamLinksCount) {
  PortModel model;
  model.set_state_db(false);
  (void)model.SetSelection(PortSelection::Host(), kNow);
  EXPECT_EQ(model.Apply(NewLink("lo", 1), kNow), ApplyOutcome::kIgnoredName);
  EXPECT_EQ(model.Apply(NewLink("eth0", 2), kNow), ApplyOutcome::kAdded);
  LinkEvent team = NewLink("team0", 3);
  team.kind = "team";
  EXPECT_EQ(model.Apply(team, kNow), ApplyOutcome::kAdded);
  EXPECT_EQ(model.Apply(DelLink("eth0", 2), kNow), ApplyOutcome::kRemoved);
  model.BeginDump();
  (void)model.EndDump(kNow);
  EXPECT_FALSE(model.HasDirty());
  EXPECT_THAT(model.TakeDirty(), IsEmpty());
  EXPECT_FALSE(model.HasAwaitingApplDb());
  EXPECT_FALSE(model.newly_awaiting());
  // eth0 and team0 added, eth0 deleted, team0 absent from the (empty) dump.
  EXPECT_EQ(model.TakeChanges().size(), 4u);
  // Gone netdevs leave no entry behind: a host whose veths come and go under new names (one per
  // container) does not grow.
  EXPECT_TRUE(model.ports().empty());
  for (int i = 0; i < 100; ++i) {
    const std::string name = "veth" + std::to_string(i);
    model.Apply(NewLink(name, 100 + i), kNow);
    model.Apply(DelLink(name, 100 + i), kNow);
  }
  model.Apply(NewLink("eth1", 5), kNow);
  model.Apply(NewLink("eth2", 5), kNow);  // eth1 renamed eth2
  EXPECT_EQ(model.ports().size(), 1u);
  EXPECT_NE(model.Find("eth2"), nullptr);
}

}  // namespace
}  // namespace portsyncd
