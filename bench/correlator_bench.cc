// bench/correlator_bench.cc
// What a /metrics scrape and the expiry timer cost the request correlator as
// the remembered requests grow: both must stay flat (O(1) in the remembered
// count), since they run on device I/O threads and every few milliseconds.
// Issue #14 measured the old scrape walking every entry under shard locks.
//
//   correlator_bench --benchmark_filter=Scrape
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "bridge/clock.h"
#include "bridge/request_correlator.h"

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

}  // namespace
}  // namespace hive

BENCHMARK_MAIN();
