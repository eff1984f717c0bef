// DecideStart: every combination of the evidence startup reads (COMPATIBILITY.md 4 and 7.7).
#include "core/start_decision.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace portsyncd {
namespace {

using ::testing::HasSubstr;

struct Row {
  bool warm_requested;
  std::optional<int64_t> restore_count;
  bool staged;    // APPL_DB _PORT_TABLE:PortConfigDone
  bool consumed;  // APPL_DB PORT_TABLE:PortConfigDone
  bool marker;
  StartMode mode;
  std::optional<std::string> write_restore_count;
};

// All 48 combinations: warm requested x restore_count (absent, 0, 5) x staged x consumed x
// marker. Read as: warm wins when it can count; else a restart of the daemon alone needs both
// a PortConfigDone (either form) and the marker; everything else is cold.
const std::vector<Row>& Table() {
  // clang-format off
  static const auto* rows = new std::vector<Row>{
      // warm, restore_count, staged, consumed, marker -> mode, restore_count written
      {false, std::nullopt, false, false, false, StartMode::kCold   , "0"},
      {false, std::nullopt, false, false, true , StartMode::kCold   , "0"},
      {false, std::nullopt, false, true , false, StartMode::kCold   , "0"},
      {false, std::nullopt, false, true , true , StartMode::kRestart, std::nullopt},
      {false, std::nullopt, true , false, false, StartMode::kCold   , "0"},
      {false, std::nullopt, true , false, true , StartMode::kRestart, std::nullopt},
      {false, std::nullopt, true , true , false, StartMode::kCold   , "0"},
      {false, std::nullopt, true , true , true , StartMode::kRestart, std::nullopt},
      {false, 0           , false, false, false, StartMode::kCold   , "0"},
      {false, 0           , false, false, true , StartMode::kCold   , "0"},
      {false, 0           , false, true , false, StartMode::kCold   , "0"},
      {false, 0           , false, true , true , StartMode::kRestart, std::nullopt},
      {false, 0           , true , false, false, StartMode::kCold   , "0"},
      {false, 0           , true , false, true , StartMode::kRestart, std::nullopt},
      {false, 0           , true , true , false, StartMode::kCold   , "0"},
      {false, 0           , true , true , true , StartMode::kRestart, std::nullopt},
      {false, 5           , false, false, false, StartMode::kCold   , "0"},
      {false, 5           , false, false, true , StartMode::kCold   , "0"},
      {false, 5           , false, true , false, StartMode::kCold   , "0"},
      {false, 5           , false, true , true , StartMode::kRestart, std::nullopt},
      {false, 5           , true , false, false, StartMode::kCold   , "0"},
      {false, 5           , true , false, true , StartMode::kRestart, std::nullopt},
      {false, 5           , true , true , false, StartMode::kCold   , "0"},
      {false, 5           , true , true , true , StartMode::kRestart, std::nullopt},
      {true , std::nullopt, false, false, false, StartMode::kCold   , "0"},
      {true , std::nullopt, false, false, true , StartMode::kCold   , "0"},
      {true , std::nullopt, false, true , false, StartMode::kCold   , "0"},
      {true , std::nullopt, false, true , true , StartMode::kRestart, "0"},
      {true , std::nullopt, true , false, false, StartMode::kCold   , "0"},
      {true , std::nullopt, true , false, true , StartMode::kRestart, "0"},
      {true , std::nullopt, true , true , false, StartMode::kCold   , "0"},
      {true , std::nullopt, true , true , true , StartMode::kRestart, "0"},
      {true , 0           , false, false, false, StartMode::kWarm   , "1"},
      {true , 0           , false, false, true , StartMode::kWarm   , "1"},
      {true , 0           , false, true , false, StartMode::kWarm   , "1"},
      {true , 0           , false, true , true , StartMode::kWarm   , "1"},
      {true , 0           , true , false, false, StartMode::kWarm   , "1"},
      {true , 0           , true , false, true , StartMode::kWarm   , "1"},
      {true , 0           , true , true , false, StartMode::kWarm   , "1"},
      {true , 0           , true , true , true , StartMode::kWarm   , "1"},
      {true , 5           , false, false, false, StartMode::kWarm   , "6"},
      {true , 5           , false, false, true , StartMode::kWarm   , "6"},
      {true , 5           , false, true , false, StartMode::kWarm   , "6"},
      {true , 5           , false, true , true , StartMode::kWarm   , "6"},
      {true , 5           , true , false, false, StartMode::kWarm   , "6"},
      {true , 5           , true , false, true , StartMode::kWarm   , "6"},
      {true , 5           , true , true , false, StartMode::kWarm   , "6"},
      {true , 5           , true , true , true , StartMode::kWarm   , "6"},  };
  // clang-format on
  return *rows;
}

std::string Describe(const Row& r) {
  return absl::StrCat("warm=", r.warm_requested, " restore_count=",
                      r.restore_count ? absl::StrCat(*r.restore_count) : "absent",
                      " staged=", r.staged, " consumed=", r.consumed, " marker=", r.marker);
}

TEST(DecideStartTest, EveryCombinationOfTheEvidenceGivesTheTablesRule) {
  ASSERT_EQ(Table().size(), 48u);
  for (const Row& row : Table()) {
    StartEvidence e;
    e.warm_requested = row.warm_requested;
    e.restore_count = row.restore_count;
    e.port_config_done_staged = row.staged;
    e.port_config_done_consumed = row.consumed;
    e.marker = row.marker;
    const StartDecision d = DecideStart(e);
    EXPECT_EQ(d.mode, row.mode) << Describe(row) << ": " << d.reason;
    EXPECT_EQ(d.restore_count, row.write_restore_count) << Describe(row);
    const char* rule = row.mode == StartMode::kRestart ? "restart of portsyncd alone"
                       : row.mode == StartMode::kWarm  ? "warm restart"
                                                       : "cold start";
    EXPECT_THAT(d.reason, HasSubstr(rule)) << Describe(row);
  }
}

TEST(DecideStartTest, AFlushedApplDbIsColdEvenWithTheMarker) {
  // SONiC's swss restart / config reload: the container's /run survives, APPL_DB does not.
  StartEvidence e;
  e.marker = true;
  const StartDecision d = DecideStart(e);
  EXPECT_EQ(d.mode, StartMode::kCold);
  EXPECT_THAT(d.reason, HasSubstr("no PortConfigDone in APPL_DB"));
  EXPECT_THAT(d.reason, HasSubstr("although the restart marker exists"));
}

TEST(DecideStartTest, APortConfigDoneWithoutTheMarkerIsAFirstStartSinceBoot) {
  StartEvidence e;
  e.port_config_done_consumed = true;
  const StartDecision d = DecideStart(e);
  EXPECT_EQ(d.mode, StartMode::kCold);
  EXPECT_THAT(d.reason, HasSubstr("restart marker is absent"));
}

TEST(DecideStartTest, ARestartOfTheDaemonAloneLeavesTheWarmRestartTablesAlone) {
  StartEvidence e;
  e.port_config_done_staged = true;
  e.marker = true;
  const StartDecision d = DecideStart(e);
  EXPECT_EQ(d.mode, StartMode::kRestart);
  EXPECT_EQ(d.restore_count, std::nullopt);
  EXPECT_THAT(d.reason, HasSubstr("staged, not yet consumed"));
  EXPECT_THAT(d.reason, HasSubstr("no port is set down"));
}

TEST(DecideStartTest, WarmRestartCountsUpAndNamesTheCount) {
  StartEvidence e;
  e.warm_requested = true;
  e.restore_count = 41;
  const StartDecision d = DecideStart(e);
  EXPECT_EQ(d.mode, StartMode::kWarm);
  EXPECT_EQ(d.restore_count, "42");
  EXPECT_THAT(d.reason, HasSubstr("restore_count 41 -> 42"));
}

}  // namespace
}  // namespace portsyncd
