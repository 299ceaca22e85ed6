// tests/integration/support/sanitizer_slowdown.h
// How much longer a hang bound may be in a sanitizer tree (make test-asan,
// make test-tsan), where every process runs several times slower: a bound
// that a loaded CI machine meets in the plain build, such as a busy bridge's
// /metrics answer, is not a sanitizer finding when the instrumentation
// misses it. A load test may also scale itself down by it.
//
//   const absl::Duration kRoutable = absl::Seconds(30 * kSanitizerSlowdown);
#pragma once

namespace hive::integration {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 4;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

}  // namespace hive::integration
