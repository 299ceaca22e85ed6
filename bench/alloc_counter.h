// bench/alloc_counter.h
// Counts heap allocations in the benchmark binary that links alloc_counter.cc,
// which replaces the global operator new and interposes glibc's malloc family
// (forwarding to glibc). Two counts, because they answer different questions:
// operator new is what our C++ (protobuf, std::string, vectors) asks for;
// malloc sees every heap allocation, including RapidJSON's pool chunks, which
// call malloc directly and would be invisible to operator new alone.
//
//   const AllocCount before = ReadAllocCount();
//   DecodeSomething();
//   const AllocCount used = ReadAllocCount() - before;   // used.mallocs, used.news
//
// The counters are process-wide relaxed atomics: exact for a single-threaded
// benchmark, approximate while other threads allocate.
#pragma once

#include <cstdint>

namespace hive::bench {

struct AllocCount {
  uint64_t mallocs = 0;  // malloc, calloc, realloc, aligned allocations (operator new included)
  uint64_t news = 0;     // global operator new, every overload

  AllocCount operator-(const AllocCount& earlier) const { return {mallocs - earlier.mallocs, news - earlier.news}; }
};

AllocCount ReadAllocCount();

}  // namespace hive::bench
