// The load generator's own arithmetic, without sockets: percentiles, the
// delivery ledger's closed loop, and event stamps surviving the codec.
#include <string>

#include "bridge/codec/device_event.h"
#include "bridge/codec/json_document.h"
#include "clients/loadgen/delivery_ledger.h"
#include "clients/loadgen/event_stamp.h"
#include "clients/loadgen/latency_histogram.h"
#include "gtest/gtest.h"

namespace hive::loadgen {
namespace {

TEST(LatencyHistogram, PercentilesAreWithinTheBucketPrecision) {
  LatencyHistogram histogram;
  for (int micros = 1; micros <= 1000; ++micros) histogram.Record(absl::Microseconds(micros));
  const LatencySnapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.total(), 1000u);
  EXPECT_NEAR(absl::ToDoubleMicroseconds(snapshot.Percentile(0.50)), 500, 500 * 0.016);
  EXPECT_NEAR(absl::ToDoubleMicroseconds(snapshot.Percentile(0.99)), 990, 990 * 0.016);
  EXPECT_NEAR(absl::ToDoubleMicroseconds(snapshot.Max()), 1000, 1000 * 0.016);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  histogram.Record(absl::Nanoseconds(7));
  EXPECT_EQ(histogram.Read().Percentile(0.5), absl::Nanoseconds(7));
}

TEST(LatencyHistogram, AWindowHoldsOnlyItsOwnSamples) {
  LatencyHistogram histogram;
  histogram.Record(absl::Seconds(1));
  const LatencySnapshot opened = histogram.Read();
  histogram.Record(absl::Microseconds(10));
  const LatencySnapshot window = histogram.Read() - opened;
  EXPECT_EQ(window.total(), 1u);
  EXPECT_LT(window.Max(), absl::Microseconds(11));
}

TEST(LatencyHistogram, AnEmptyWindowReportsZero) {
  EXPECT_EQ(LatencySnapshot().Percentile(0.99), absl::ZeroDuration());
}

TEST(DeliveryLedger, AnEventIsDoneWhenEveryReceiverHasIt) {
  DeliveryLedger ledger(/*slots=*/2, /*receivers=*/3);
  const uint64_t seq = ledger.Arm(1);
  const EventStamp stamp{1, seq, SteadyNanos()};
  EXPECT_FALSE(ledger.Deliver(stamp, SteadyNanos()));
  EXPECT_FALSE(ledger.Deliver(stamp, SteadyNanos()));
  EXPECT_TRUE(ledger.Deliver(stamp, SteadyNanos()));
  EXPECT_FALSE(ledger.Deliver(stamp, SteadyNanos())) << "a duplicate never completes it twice";
  const DeliveryLedger::Tally tally = ledger.Read();
  EXPECT_EQ(tally.sent, 1u);
  EXPECT_EQ(tally.deliveries, 4u);
  EXPECT_EQ(tally.completed, 1u);
  EXPECT_EQ(tally.latency.total(), 4u);
}

TEST(DeliveryLedger, ARetiredEventIsLostAndItsLateReceiptsCountForNothing) {
  DeliveryLedger ledger(1, 2);
  const uint64_t first = ledger.Arm(0);
  EXPECT_TRUE(ledger.Retire(0, first));
  EXPECT_FALSE(ledger.Retire(0, first));
  const uint64_t second = ledger.Arm(0);
  EXPECT_FALSE(ledger.Deliver({0, first, 0}, 1));
  EXPECT_FALSE(ledger.Deliver({0, first, 0}, 1));
  EXPECT_FALSE(ledger.Deliver({0, second, 0}, 1)) << "the late receipts did not count towards the next event";
  EXPECT_TRUE(ledger.Deliver({0, second, 0}, 1));
  EXPECT_EQ(ledger.Read().lost, 1u);
}

TEST(DeliveryLedger, ACompletedEventCannotBeRetired) {
  DeliveryLedger ledger(1, 1);
  const uint64_t seq = ledger.Arm(0);
  EXPECT_TRUE(ledger.Deliver({0, seq, 0}, 1));
  EXPECT_FALSE(ledger.Retire(0, seq));
  EXPECT_EQ(ledger.Read().lost, 0u);
}

TEST(DeliveryLedger, AStampForNoSlotIsIgnored) {
  DeliveryLedger ledger(1, 1);
  EXPECT_FALSE(ledger.Deliver({5, 1, 0}, 1));
}

TEST(EventStamp, RoundTripsAtAFixedWidth) {
  const EventStamp stamp{12, 3456789, 1234567890123};
  const std::string text = FormatStamp(stamp);
  EXPECT_EQ(text.size(), FormatStamp({}).size());
  const std::optional<EventStamp> read = ParseStamp(text);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->slot, 12u);
  EXPECT_EQ(read->seq, 3456789u);
  EXPECT_EQ(read->sent_nanos, 1234567890123);
  EXPECT_FALSE(ParseStamp("12.x.3").has_value());
}

TEST(StampedEventFrame, EveryFrameHasTheSameSize) {
  const StampedEventFrame frame("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b", "8813b625-e219-4390-9a7b-fe0e22c9e50b");
  EXPECT_EQ(frame.With({}).size(), frame.With({99, 123456789, SteadyNanos()}).size());
}

TEST(StampedEventFrame, TheBridgeCodecKeepsTheStampInExtra) {
  const StampedEventFrame frame("d88f322f-d0aa-4a3c-8564-6ebe0f7ebb3b", "8813b625-e219-4390-9a7b-fe0e22c9e50b");
  const std::string text = frame.With({3, 42, 777});
  rapidjson::Document doc;
  ASSERT_TRUE(codec::ParseJson(text, codec::ParseLimits{}, doc).ok());
  codec::JsonPath path;
  absl::StatusOr<hive::bridge::v1::DeviceEvent> event = codec::DecodeDeviceEvent(doc, codec::Dialect::kStandard, path);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type(), kStampedEventType);
  EXPECT_TRUE(event->has_device_state());
  const std::optional<EventStamp> stamp = ParseStamp(event->extra().fields().at(std::string(kStampKey)).string_value());
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(stamp->seq, 42u);
  EXPECT_EQ(StampOfFrame(text)->sent_nanos, 777);
}

}  // namespace
}  // namespace hive::loadgen
