// WritePump on a fake sink and a fake source: every interleaving is driven by hand (a kick or a
// finish that lands while the source runs is made from inside the source's call; a write
// completes only when the test says so). No gRPC, no threads, no sleeps.
#include "server/stream/write_pump.h"

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/stream_test_util.h"

namespace portsyncd {
namespace {

SharedBytes Msg(const std::string& text) {
  grpc::Slice slice(text);
  return std::make_shared<const grpc::ByteBuffer>(&slice, 1);
}

class FakeSink : public StreamSink {
 public:
  void StartWrite(const grpc::ByteBuffer* message) override {
    EXPECT_FALSE(in_flight) << "a second write started while one was in flight";
    EXPECT_FALSE(finished) << "a write after Finish";
    in_flight = true;
    writes.push_back(BytesOf(*message));
  }
  void Finish(const grpc::Status& status) override {
    EXPECT_FALSE(in_flight) << "Finish with a write in flight";
    ++finishes;
    finished = true;
    final_status = status;
  }
  // gRPC's OnWriteDone of the write in flight.
  void Complete(WritePump& pump, bool ok = true) {
    ASSERT_TRUE(in_flight);
    in_flight = false;
    pump.OnWriteDone(ok);
  }
  std::vector<std::string> Texts() const { return writes; }
  std::vector<std::string> writes;
  bool in_flight = false;
  bool finished = false;
  int finishes = 0;
  grpc::Status final_status;
};

class FakeSource : public StreamSource {
 public:
  Outgoing Next() override {
    ++calls;
    Outgoing out;
    if (!ready.empty()) {
      out = std::move(ready.front());
      ready.pop_front();
    }
    if (during_next) std::exchange(during_next, nullptr)();  // what lands meanwhile
    return out;
  }
  void Add(std::vector<std::string> texts, std::optional<grpc::Status> finish = std::nullopt) {
    Outgoing out;
    for (const std::string& t : texts) out.messages.push_back(Msg(t));
    out.finish = std::move(finish);
    ready.push_back(std::move(out));
  }
  std::deque<Outgoing> ready;
  std::function<void()> during_next;  // runs once, inside the next call
  int calls = 0;
};

struct Fixture {
  FakeSink sink;
  FakeSource source;
  WritePump pump{&sink, &source};
};

TEST(WritePumpTest, WritesABatchBackToBackOneAtATimeThenAsksAgain) {
  Fixture f;
  f.source.Add({"a", "b", "c"});
  f.pump.Kick();
  ASSERT_EQ(f.sink.writes.size(), 1u);
  f.sink.Complete(f.pump);
  f.sink.Complete(f.pump);
  ASSERT_EQ(f.sink.Texts(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(f.source.calls, 1);
  f.sink.Complete(f.pump);  // the batch is out: the source may hold more than it gave
  EXPECT_EQ(f.source.calls, 2);
  EXPECT_FALSE(f.sink.in_flight);
  EXPECT_EQ(f.pump.batches(), 1u);
  EXPECT_EQ(f.pump.writes(), 3u);
}

// The lost wake-up of the two old pumps: a source that has nothing yet (a stream waiting for the
// first link dump) while the kick that makes it ready lands. The pump must ask again before it
// goes idle, or the stream hears nothing until the next kernel change (on a quiet switch, never).
TEST(WritePumpTest, AKickThatLandsWhileTheSourceHasNothingIsNotLost) {
  Fixture f;
  f.source.during_next = [&] {
    f.source.Add({"snapshot", "SYNCED"});  // the dump is applied meanwhile...
    f.pump.Kick();                         // ...and the hub kicks every stream
  };
  f.pump.Kick();  // the stream's own first kick: nothing to send yet
  EXPECT_EQ(f.source.calls, 2);
  ASSERT_EQ(f.sink.writes.size(), 1u);
  EXPECT_EQ(f.sink.writes[0], "snapshot");
}

TEST(WritePumpTest, AKickDuringAWriteIsAnsweredWhenItCompletes) {
  Fixture f;
  f.source.Add({"1"});
  f.pump.Kick();
  f.source.Add({"2"});
  f.pump.Kick();  // busy: only noted
  EXPECT_EQ(f.source.calls, 1);
  EXPECT_EQ(f.sink.writes.size(), 1u);
  f.sink.Complete(f.pump);
  EXPECT_EQ(f.sink.Texts(), (std::vector<std::string>{"1", "2"}));
}

TEST(WritePumpTest, IdleWithNothingToSendAndAKickAfterwardsStartsAgain) {
  Fixture f;
  f.pump.Kick();
  EXPECT_EQ(f.source.calls, 1);
  EXPECT_TRUE(f.sink.writes.empty());
  f.source.Add({"x"});
  f.pump.Kick();
  EXPECT_EQ(f.sink.Texts(), (std::vector<std::string>{"x"}));
}

TEST(WritePumpTest, FinishWhileIdleFinishesAtOnceAndOnlyOnce) {
  Fixture f;
  f.pump.Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  f.pump.Finish(grpc::Status::CANCELLED);
  f.pump.Kick();
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(f.source.calls, 0) << "a finished pump asked its source";
  EXPECT_TRUE(f.pump.finished());
}

TEST(WritePumpTest, FinishDuringAWriteWaitsForItAndDropsTheRest) {
  Fixture f;
  f.source.Add({"a", "b"});
  f.pump.Kick();
  f.pump.Finish(grpc::Status::CANCELLED);  // OnCancel while "a" is in flight
  EXPECT_EQ(f.sink.finishes, 0) << "Finish with a write in flight";
  f.sink.Complete(f.pump);
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(f.sink.Texts(), (std::vector<std::string>{"a"}));
}

TEST(WritePumpTest, FinishWhileTheSourceRunsFinishesWhenItReturnsWithoutWriting) {
  Fixture f;
  f.source.Add({"a"});
  f.source.during_next = [&] {
    f.pump.Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "shutting down"));
  };
  f.pump.Kick();
  EXPECT_TRUE(f.sink.writes.empty());
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(WritePumpTest, AFailedWriteFinishesUnavailableAndWritesNothingMore) {
  Fixture f;
  f.source.Add({"a", "b"});
  f.pump.Kick();
  f.sink.Complete(f.pump, /*ok=*/false);
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(f.sink.writes.size(), 1u);
  f.pump.Kick();
  EXPECT_EQ(f.source.calls, 1);
}

TEST(WritePumpTest, TheSourceMayEndTheStreamAfterItsLastMessages) {
  Fixture f;
  f.source.Add({"value", "sync"}, grpc::Status::OK);  // gNMI ONCE
  f.pump.Kick();
  f.sink.Complete(f.pump);
  EXPECT_EQ(f.sink.finishes, 0);
  f.sink.Complete(f.pump);
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_TRUE(f.sink.final_status.ok());
  EXPECT_EQ(f.source.calls, 1);
}

TEST(WritePumpTest, TheSourceMayEndTheStreamWithNothingToWrite) {
  Fixture f;
  f.source.Add({}, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "fell behind"));
  f.pump.Kick();
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(WritePumpTest, TheFirstFinishStatusWinsOverTheSourcesOwn) {
  Fixture f;
  f.source.Add({"a"}, grpc::Status::OK);
  f.pump.Kick();
  f.pump.Finish(grpc::Status::CANCELLED);
  f.sink.Complete(f.pump);
  EXPECT_EQ(f.sink.finishes, 1);
  EXPECT_EQ(f.sink.final_status.error_code(), grpc::StatusCode::CANCELLED);
}

}  // namespace
}  // namespace portsyncd
