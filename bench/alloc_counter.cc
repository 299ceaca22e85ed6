#include "bench/alloc_counter.h"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// glibc's own entry points: the interposed functions forward here, so memory
// still comes from (and returns to) the same allocator. Their names are
// reserved because they are the C library's.
// NOLINTBEGIN(bugprone-reserved-identifier)
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);
}
// NOLINTEND(bugprone-reserved-identifier)

namespace {

std::atomic<uint64_t> mallocs{0};
std::atomic<uint64_t> news{0};

void CountMalloc() { mallocs.fetch_add(1, std::memory_order_relaxed); }

void* NewOrThrow(size_t size) {
  news.fetch_add(1, std::memory_order_relaxed);
  if (void* pointer = malloc(size == 0 ? 1 : size)) return pointer;
  throw std::bad_alloc();
}

void* AlignedNewOrThrow(size_t size, std::align_val_t alignment) {
  news.fetch_add(1, std::memory_order_relaxed);
  void* pointer = nullptr;
  if (posix_memalign(&pointer, static_cast<size_t>(alignment), size == 0 ? 1 : size) == 0) return pointer;
  throw std::bad_alloc();
}

}  // namespace

// glibc supports replacing malloc in the executable; all four of malloc,
// calloc, realloc and free must be replaced together.
extern "C" {
void* malloc(size_t size) {
  CountMalloc();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  CountMalloc();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  CountMalloc();
  return __libc_realloc(pointer, size);
}
void free(void* pointer) { __libc_free(pointer); }
int posix_memalign(void** out, size_t alignment, size_t size) {
  CountMalloc();
  void* pointer = __libc_memalign(alignment, size);
  if (pointer == nullptr) return 12;  // ENOMEM
  *out = pointer;
  return 0;
}
void* aligned_alloc(size_t alignment, size_t size) {
  CountMalloc();
  return __libc_memalign(alignment, size);
}
void* memalign(size_t alignment, size_t size) {
  CountMalloc();
  return __libc_memalign(alignment, size);
}
}

void* operator new(size_t size) { return NewOrThrow(size); }
void* operator new[](size_t size) { return NewOrThrow(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  news.fetch_add(1, std::memory_order_relaxed);
  return malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(size_t size, std::align_val_t alignment) { return AlignedNewOrThrow(size, alignment); }
void* operator new[](size_t size, std::align_val_t alignment) { return AlignedNewOrThrow(size, alignment); }

void operator delete(void* pointer) noexcept { free(pointer); }
void operator delete[](void* pointer) noexcept { free(pointer); }
void operator delete(void* pointer, size_t) noexcept { free(pointer); }
void operator delete[](void* pointer, size_t) noexcept { free(pointer); }
void operator delete(void* pointer, std::align_val_t) noexcept { free(pointer); }
void operator delete[](void* pointer, std::align_val_t) noexcept { free(pointer); }
void operator delete(void* pointer, size_t, std::align_val_t) noexcept { free(pointer); }
void operator delete[](void* pointer, size_t, std::align_val_t) noexcept { free(pointer); }

namespace hive::bench {

AllocCount ReadAllocCount() { return {mallocs.load(std::memory_order_relaxed), news.load(std::memory_order_relaxed)}; }

}  // namespace hive::bench
