// Shared by the libFuzzer targets: an invariant that must hold whatever the input.
#ifndef PORTSYNCD_TESTS_FUZZ_FUZZ_CHECK_H_
#define PORTSYNCD_TESTS_FUZZ_FUZZ_CHECK_H_

namespace portsyncd {

// Stops the fuzzer with a crash (and its input saved) when `ok` is false.
inline void FuzzCheck(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace portsyncd

#endif  // PORTSYNCD_TESTS_FUZZ_FUZZ_CHECK_H_
