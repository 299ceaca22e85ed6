#include "bridge/trace_context.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::MatchesRegex;

// The spec's own example (W3C Trace Context level 1, §3.2.2.x).
constexpr absl::string_view kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, ParsesTheSpecExample) {
  std::optional<Traceparent> parsed = ParseTraceparent(kSpecExample);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0);
  EXPECT_EQ(parsed->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(parsed->parent_id, "00f067aa0ba902b7");
  EXPECT_EQ(parsed->flags, 1);
}

TEST(Traceparent, ParsesUnsampledFlags) {
  std::optional<Traceparent> parsed = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags, 0);
}

TEST(Traceparent, RefusesEveryMalformedShape) {
  for (absl::string_view bad : {
           "",
           "00",
           // all-zero trace id, all-zero parent id
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           // uppercase hex anywhere
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
           "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           // version ff is invalid whatever follows
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           // version 00 must be exactly 55 characters
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
           // short fields, wrong separators, non-hex
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
           "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
           " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(Traceparent, ReadsALaterVersionByItsFirstFourFields) {
  std::optional<Traceparent> plain = ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->version, 0xcc);
  std::optional<Traceparent> longer =
      ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-adds");
  ASSERT_TRUE(longer.has_value());
  EXPECT_EQ(longer->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(longer->flags, 9);
  // Anything after the flags must start with '-'.
  EXPECT_FALSE(ParseTraceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").has_value());
}

TEST(TraceContext, ContinuesTheCallersTraceInANewSpan) {
  TraceContext trace = TraceContext::Continue(kSpecExample, "congo=t61rcWkgMzE");
  EXPECT_EQ(trace.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(trace.parent_id, "00f067aa0ba902b7");
  EXPECT_THAT(trace.span_id, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_NE(trace.span_id, "00f067aa0ba902b7");
  EXPECT_NE(trace.span_id, "0000000000000000");
  EXPECT_EQ(trace.tracestate, "congo=t61rcWkgMzE");
  EXPECT_FALSE(trace.invalid_header);
  EXPECT_EQ(trace.Traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-" + trace.span_id + "-01");
}

TEST(TraceContext, EveryCallHasItsOwnSpan) {
  EXPECT_NE(TraceContext::Continue(kSpecExample, "").span_id, TraceContext::Continue(kSpecExample, "").span_id);
}

TEST(TraceContext, AbsentHeaderStartsAFreshValidTrace) {
  TraceContext trace = TraceContext::Continue("", "");
  EXPECT_FALSE(trace.invalid_header);
  EXPECT_TRUE(trace.parent_id.empty());
  std::optional<Traceparent> reparsed = ParseTraceparent(trace.Traceparent());
  ASSERT_TRUE(reparsed.has_value()) << trace.Traceparent();
  EXPECT_EQ(reparsed->trace_id, trace.trace_id);
  EXPECT_EQ(reparsed->parent_id, trace.span_id);
  EXPECT_EQ(reparsed->flags, 0);
  EXPECT_NE(TraceContext::Fresh().trace_id, trace.trace_id);
}

TEST(TraceContext, InvalidHeaderStartsAFreshTraceAndDropsTracestate) {
  TraceContext trace =
      TraceContext::Continue("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "congo=t61rcWkgMzE");
  EXPECT_TRUE(trace.invalid_header);
  EXPECT_THAT(trace.trace_id, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(trace.trace_id, "00000000000000000000000000000000");
  // A tracestate belongs to the traceparent it came with.
  EXPECT_TRUE(trace.tracestate.empty());
  EXPECT_TRUE(ParseTraceparent(trace.Traceparent()).has_value());
}

TEST(TraceContext, ALaterVersionIsAnsweredInVersion00WithOnlyTheSampledFlag) {
  TraceContext trace = TraceContext::Continue("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff-more", "");
  EXPECT_EQ(trace.flags, 1);
  EXPECT_EQ(trace.Traceparent().substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  EXPECT_EQ(trace.Traceparent().substr(52), "-01");
}

TEST(TraceContext, TracestateUpTo512BytesIsPassedOnUnchanged) {
  const std::string at_limit = "a=" + std::string(kMaxTracestateBytes - 2, 'x');
  EXPECT_EQ(TraceContext::Continue(kSpecExample, at_limit).tracestate, at_limit);
  EXPECT_FALSE(TraceContext::Continue(kSpecExample, at_limit).tracestate_dropped);
  EXPECT_FALSE(TraceContext::Continue(kSpecExample, "").tracestate_dropped);
  for (const std::string& dropped : {at_limit + "x", std::string("a=b\r\nx: y")}) {
    TraceContext trace = TraceContext::Continue(kSpecExample, dropped);
    EXPECT_TRUE(trace.tracestate.empty());
    EXPECT_TRUE(trace.tracestate_dropped);
  }
}

}  // namespace
}  // namespace hive
