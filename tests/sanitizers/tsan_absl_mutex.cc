// ThreadSanitizer builds only (PORTSYNCD_SANITIZE=thread): makes absl::Mutex visible to TSan.
//
// Debian's Abseil is not built with -fsanitize=thread, so absl::Mutex locks through futexes and
// atomics TSan never sees: every access guarded by one of our absl::Mutexes would be reported
// as a race. This file defines absl::Mutex's and absl::CondVar's out-of-line lock functions in
// the executable; being the executable's, these definitions take precedence over libabsl's for
// every caller (ours, and gRPC's, whose shared library binds to them dynamically). Each tells
// TSan what the real function (found with dlsym(RTLD_NEXT)) does, through TSan's mutex
// annotation API, exactly as Abseil's own TSan build does:
//   lock:   __tsan_mutex_pre_lock, real, __tsan_mutex_post_lock    (acquire)
//   unlock: __tsan_mutex_pre_unlock, real, __tsan_mutex_post_unlock (release)
//   Await / CondVar::Wait (release, wait, re-acquire): __tsan_mutex_pre_unlock, real,
//           __tsan_mutex_post_lock
// Only the outermost call on a thread is annotated (libabsl calls its own exported functions
// through the PLT, so those calls come back here). Between pre_ and post_ TSan ignores memory
// accesses, which covers the Condition functions Abseil evaluates inside Lock/Unlock/Await
// (possibly on another thread, holding the lock).
// A name that dlsym cannot find aborts at the first call: a silent no-op would hide races.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Real(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found: %s\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

#define PSD_MANGLE_MUTEX(suffix) "_ZN4absl" ABSL_NS_LEN ABSL_NS "5Mutex" suffix
#define PSD_MANGLE_CONDVAR(suffix) "_ZN4absl" ABSL_NS_LEN ABSL_NS "7CondVar" suffix
// The inline namespace of Debian's Abseil ("debian3"), as it appears in mangled names.
#define ABSL_NS_STR2(x) #x
#define ABSL_NS_STR(x) ABSL_NS_STR2(x)
#define ABSL_NS ABSL_NS_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME)
#define ABSL_NS_LEN "7"
static_assert(sizeof(ABSL_NS) - 1 == 7, "update ABSL_NS_LEN to the inline namespace's length");

// libabsl's functions call each other through the PLT (AwaitWithTimeout calls AwaitWithDeadline,
// ...), so they land here again: only the outermost call on a thread is annotated.
thread_local int depth = 0;
class Outermost {
 public:
  Outermost() : outermost_(depth++ == 0) {}
  ~Outermost() { --depth; }
  explicit operator bool() const { return outermost_; }

 private:
  const bool outermost_;
};

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock_failed;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>(PSD_MANGLE_MUTEX("4LockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, 0);
  real(this);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>(PSD_MANGLE_MUTEX("10ReaderLockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, kRead);
  real(this);
  if (outermost) __tsan_mutex_post_lock(this, kRead, 0);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(PSD_MANGLE_MUTEX("7TryLockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, kTry);
  const bool locked = real(this);
  if (outermost) __tsan_mutex_post_lock(this, locked ? kTry : kTry | kTryFailed, 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(PSD_MANGLE_MUTEX("13ReaderTryLockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, kRead | kTry);
  const bool locked = real(this);
  if (outermost) __tsan_mutex_post_lock(this, locked ? kRead | kTry : kRead | kTry | kTryFailed, 0);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>(PSD_MANGLE_MUTEX("6UnlockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(this, 0);
  real(this);
  if (outermost) __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>(PSD_MANGLE_MUTEX("12ReaderUnlockEv"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  if (outermost) __tsan_mutex_post_unlock(this, kRead);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(PSD_MANGLE_MUTEX("8LockWhenERKNS0_9ConditionE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      PSD_MANGLE_MUTEX("14ReaderLockWhenERKNS0_9ConditionE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, kRead);
  real(this, cond);
  if (outermost) __tsan_mutex_post_lock(this, kRead, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      PSD_MANGLE_MUTEX("19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, 0);
  const bool result = real(this, cond, timeout);  // holds the lock either way
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      PSD_MANGLE_MUTEX("20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_lock(this, 0);
  const bool result = real(this, cond, deadline);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(PSD_MANGLE_MUTEX("5AwaitERKNS0_9ConditionE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(this, 0);
  real(this, cond);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      PSD_MANGLE_MUTEX("16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(this, 0);
  const bool result = real(this, cond, timeout);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      PSD_MANGLE_MUTEX("17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(this, 0);
  const bool result = real(this, cond, deadline);
  if (outermost) __tsan_mutex_post_lock(this, 0, 0);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Real<void (*)(CondVar*, Mutex*)>(PSD_MANGLE_CONDVAR("4WaitEPNS0_5MutexE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, 0);
  real(this, mu);
  if (outermost) __tsan_mutex_post_lock(mu, 0, 0);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      PSD_MANGLE_CONDVAR("15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, 0);
  const bool result = real(this, mu, timeout);
  if (outermost) __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      PSD_MANGLE_CONDVAR("16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  const Outermost outermost;
  if (outermost) __tsan_mutex_pre_unlock(mu, 0);
  const bool result = real(this, mu, deadline);
  if (outermost) __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
