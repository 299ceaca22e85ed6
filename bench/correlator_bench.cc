// bench/correlator_bench.cc
// What a /metrics scrape and the expiry timer cost the request correlator as
// the remembered requests grow: both must stay flat (O(1) in the remembered
// count), since they run on device I/O threads and every few milliseconds.
// Issue #14 measured the old scrape walking every entry under shard locks.
// And what a remembered request costs in memory (issue #18: at most 128
// bytes), measured as glibc's heap in use: this binary must keep glibc's
// malloc (no tcmalloc, no alloc_counter), or mallinfo2 sees nothing.
//
//   correlator_bench --benchmark_filter=Scrape
//   correlator_bench --benchmark_filter=RememberedBytes
#include <malloc.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "bridge/clock.h"
#include "bridge/request_correlator.h"
#include "bridge/uuid.h"
#include "google/protobuf/struct.pb.h"

namespace hive {
namespace {

constexpr char kDevice[] = "7f3c1a52-6f4e-4b8a-9d2e-0c1b2a3d4e5f";

// A correlator remembering `count` answered requests, with budgets wide
// enough to keep them all.
void Fill(RequestCorrelator& correlator, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const std::string id = absl::StrCat("req-", i);
    RequestCorrelator::Registration registration = correlator.Await(
        id, kDevice, /*digest=*/static_cast<RequestCorrelator::Digest>(i), hive::bridge::v1::WAIT_MODE_NONE,
        absl::InfiniteFuture(), [](absl::StatusOr<SendDeviceRequestResponse>) {});
    correlator.MarkSent(id, registration.waiter, /*connection=*/1);
    RequestCorrelator::DeviceResult result;
    result.succeeded = true;
    correlator.OnResult(kDevice, id, std::move(result));
  }
}

RequestCorrelator::Options WideBudget() {
  RequestCorrelator::Options options;
  options.max_remembered = 0;
  options.max_remembered_bytes = 0;
  options.dedupe_window = absl::Hours(1);
  return options;
}

// What server/metrics.cc reads from the correlator per scrape.
void BM_Scrape(benchmark::State& state) {
  SystemClock clock;
  RequestCorrelator correlator(clock, WideBudget());
  Fill(correlator, state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(correlator.pending());
    benchmark::DoNotOptimize(correlator.remembered());
  }
  state.counters["remembered"] = static_cast<double>(correlator.remembered().entries);
}
BENCHMARK(BM_Scrape)->Arg(1000)->Arg(1'000'000);

// One tick of the expiry timer with nothing due.
void BM_ExpireDueIdle(benchmark::State& state) {
  SystemClock clock;
  RequestCorrelator correlator(clock, WideBudget());
  Fill(correlator, state.range(0));
  for (auto _ : state) correlator.ExpireDue();
  state.counters["remembered"] = static_cast<double>(correlator.remembered().entries);
}
BENCHMARK(BM_ExpireDueIdle)->Arg(1000)->Arg(1'000'000);

// The round trip's requests (bench.sh's request phase): fresh UUID request
// ids, spread over 1,000 devices of one account, each device on a
// connection of its own.
struct RoundTripShape {
  static constexpr int kDevices = 1000;
  std::vector<std::string> request_ids;
  std::vector<std::string> device_ids;
  std::string account_id = "8813b625-e219-4390-9a7b-fe0e22c9e50b";
};

RoundTripShape MakeShape(int64_t count) {
  RoundTripShape shape;
  for (int64_t i = 0; i < count; ++i) shape.request_ids.push_back(NewUuid());
  for (int i = 0; i < RoundTripShape::kDevices; ++i) shape.device_ids.push_back(absl::StrFormat("device-%06d", i));
  return shape;
}

// A small result, as a device answers a command: {"ok":true,"temperature":21.5}.
RequestCorrelator::DeviceResult SmallResult() {
  RequestCorrelator::DeviceResult result;
  result.succeeded = true;
  result.has_result = true;
  (*result.result.mutable_fields())["ok"].set_bool_value(true);
  (*result.result.mutable_fields())["temperature"].set_number_value(21.5);
  return result;
}

// Each request as the bridge sees it in a round trip: registered, written on
// its device's connection, acked (and, waiting for the result, answered);
// its waiter is done by then, so the entry is only remembered.
void Answer(RequestCorrelator& correlator, const RoundTripShape& shape, WaitMode mode) {
  for (size_t i = 0; i < shape.request_ids.size(); ++i) {
    const std::string& id = shape.request_ids[i];
    const size_t device = i % shape.device_ids.size();
    RequestCorrelator::Registration registration =
        correlator.Await(id, shape.device_ids[device], /*digest=*/i, mode, absl::InfiniteFuture(),
                         [](absl::StatusOr<SendDeviceRequestResponse>) {}, RequestCorrelator::IdSource::kCaller,
                         {shape.account_id, RequestCorrelator::Watch::kNone});
    correlator.MarkSent(id, registration.waiter, /*connection=*/device + 1);
    correlator.OnAck(shape.device_ids[device], id);
    if (mode == hive::bridge::v1::WAIT_MODE_RESULT) correlator.OnResult(shape.device_ids[device], id, SmallResult());
  }
}

// Bytes of glibc's heap in use: chunks handed out (their headers included,
// which are real memory) plus blocks large enough to be mmapped, which
// uordblks leaves out (a big hash table's array may be one).
size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// Issue #18: memory per remembered request. The heap the correlator holds
// for state.range(0) answered requests, per request, next to the
// correlator's own estimate (remembered().bytes), which is what its byte budget
// (--max-remembered-bytes) counts. Time: registering and answering them all.
void BM_RememberedBytes(benchmark::State& state, WaitMode mode) {
  const RoundTripShape shape = MakeShape(state.range(0));
  SystemClock clock;
  for (auto _ : state) {
    state.PauseTiming();
    auto correlator = std::make_unique<RequestCorrelator>(clock, WideBudget());
    const size_t before = HeapInUse();
    state.ResumeTiming();
    Answer(*correlator, shape, mode);
    state.PauseTiming();
    const size_t held = HeapInUse() - before;
    const RequestCorrelator::Memory memory = correlator->remembered();
    if (memory.entries != shape.request_ids.size()) {
      state.SkipWithError(
          absl::StrCat("remembered ", memory.entries, " of ", shape.request_ids.size(), " requests").c_str());
    }
    const double entries = static_cast<double>(std::max<size_t>(1, memory.entries));
    state.counters["requests"] = static_cast<double>(shape.request_ids.size());
    state.counters["remembered"] = static_cast<double>(memory.entries);
    state.counters["heap_bytes_per_request"] = static_cast<double>(held) / entries;
    state.counters["estimated_bytes_per_request"] = static_cast<double>(memory.bytes) / entries;
    correlator.reset();
    state.ResumeTiming();
  }
}
// One fill per run: the fill is the measurement.
BENCHMARK_CAPTURE(BM_RememberedBytes, ack, hive::bridge::v1::WAIT_MODE_ACK)->Arg(100'000)->Iterations(1);
BENCHMARK_CAPTURE(BM_RememberedBytes, result, hive::bridge::v1::WAIT_MODE_RESULT)->Arg(100'000)->Iterations(1);

}  // namespace
}  // namespace hive

BENCHMARK_MAIN();
