// TSan builds only: checks that tsan_absl_mutex.cc makes absl::Mutex visible to ThreadSanitizer.
// Each test hands data from one thread to another under an absl::Mutex only. Without the
// annotations TSan would report these as races (and halt_on_error fails the test); with them
// it must stay silent. If these pass, TSan reports from the daemon are not absl::Mutex noise.
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

TEST(TsanAbslMutexTest, LockAndUnlockOrderAccesses) {
  absl::Mutex mu;
  std::string data;  // plain memory, guarded by mu only
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        absl::MutexLock lock(&mu);
        ++counter;
        data.assign(static_cast<size_t>(counter % 64), 'x');
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter, 4000);
}

TEST(TsanAbslMutexTest, AwaitAndLockWhenHandOver) {
  absl::Mutex mu;
  bool ready = false;
  std::vector<int> payload;
  std::thread consumer([&] {
    mu.LockWhen(absl::Condition(&ready));
    EXPECT_EQ(payload.size(), 3u);
    payload.clear();
    ready = false;
    mu.Unlock();
  });
  {
    absl::MutexLock lock(&mu);
    payload = {1, 2, 3};
    ready = true;
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](bool* r) { return !*r; }, &ready));
    EXPECT_TRUE(payload.empty());
  }
  consumer.join();
}

TEST(TsanAbslMutexTest, AwaitWithTimeoutAndCondVar) {
  absl::Mutex mu;
  absl::CondVar cv;
  int stage = 0;
  std::thread worker([&] {
    absl::MutexLock lock(&mu);
    while (stage != 1) cv.Wait(&mu);
    stage = 2;
    cv.Signal();
  });
  {
    absl::MutexLock lock(&mu);
    stage = 1;
    cv.Signal();
    while (stage != 2) {
      mu.AwaitWithTimeout(absl::Condition(
                              +[](int* s) { return *s == 2; }, &stage),
                          absl::Seconds(1));
    }
  }
  worker.join();
}

}  // namespace
