// bench/codec_bench.cc
// Codec micro-benchmarks: decode and encode of the seed device-request, of
// every event type's golden file and of a 50-message batch frame, each next
// to two baselines over the very same bytes:
//   simdjson_parse  a simdjson on-demand parse that visits every value
//                   (issue #18: decode_encode / simdjson_parse <= 3x)
//   parse_only      RapidJSON's rapidjson::Document::Parse (issue #6's
//                   baseline, kept so the history stays comparable)
//
// Every benchmark reports, per message (a batch frame holds 50):
//   allocs_per_msg  heap allocations of any kind (malloc level)
//   news_per_msg    of those, global operator new calls
//   messages        messages per iteration, to turn time per frame into time per message
//
// Inputs are the files minified (whitespace outside strings removed), as a
// device sends them on the wire.
//
//   codec_bench --benchmark_format=json > codec.json
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "bench/alloc_counter.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_frame.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/json_document.h"
#include "rapidjson/document.h"
#include "simdjson.h"

namespace hive::bench {
namespace {

using codec::Dialect;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::DeviceRequest;

constexpr int kBatchSize = 50;

// Golden events a device may send (the bridge's own types cannot be in a
// device's batch); the batch cycles through them.
const char* const kDeviceEventStems[] = {"event_instances", "event_instance_state", "event_device_version",
                                         "event_device_state", "event_generic"};
const char* const kBridgeEventStems[] = {"event_device_alive", "event_device_connected", "event_device_disconnected"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "codec_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The JSON text without whitespace outside strings.
std::string Minified(absl::string_view text) {
  std::string out;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out.push_back(c);
    }
  }
  return out;
}

std::string GoldenEvent(const char* stem) {
  return Minified(ReadFile(absl::StrCat(HIVE_GOLDEN_DIR, "/", stem, ".json")));
}

[[noreturn]] void Fail(absl::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "codec_bench: %s: %s\n", std::string(what).c_str(), status.ToString().c_str());
  std::exit(2);
}

// One input and how the codec reads and writes it.
template <typename Message>
struct CodecCase {
  std::string name;
  std::string text;
  int messages = 1;
  std::function<absl::StatusOr<Message>(absl::string_view)> decode;
  std::function<std::string(const Message&)> encode;
};

// Runs `body` for the benchmark's iterations and sets the per-message
// counters from the allocations made meanwhile.
template <typename Body>
void Measure(benchmark::State& state, int messages, size_t bytes, Body body) {
  const AllocCount before = ReadAllocCount();
  for (auto _ : state) body();
  const AllocCount used = ReadAllocCount() - before;
  const double count = static_cast<double>(state.iterations()) * messages;
  state.counters["allocs_per_msg"] = static_cast<double>(used.mallocs) / count;
  state.counters["news_per_msg"] = static_cast<double>(used.news) / count;
  state.counters["messages"] = messages;
  state.SetItemsProcessed(static_cast<int64_t>(count));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// What the simdjson baseline read, folded so that no read can be optimised
// away.
struct Sink {
  uint64_t bytes = 0;  // of keys and strings, unescaped
  double numbers = 0;
  uint64_t scalars = 0;  // booleans and nulls
};

simdjson::error_code VisitValue(simdjson::ondemand::value value, Sink& sink);

simdjson::error_code VisitObject(simdjson::ondemand::object object, Sink& sink) {
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key)) return error;
    sink.bytes += key.size();
    simdjson::ondemand::value child;
    if (auto error = field.value().get(child)) return error;
    if (auto error = VisitValue(child, sink)) return error;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code VisitArray(simdjson::ondemand::array array, Sink& sink) {
  for (auto element : array) {
    simdjson::ondemand::value child;
    if (auto error = element.get(child)) return error;
    if (auto error = VisitValue(child, sink)) return error;
  }
  return simdjson::SUCCESS;
}

// Reads `value` as a decoder has to: every key and string unescaped, every
// number converted. On demand, whatever is not asked for is skipped, not
// parsed, so a baseline that touched nothing would measure nothing.
simdjson::error_code VisitValue(simdjson::ondemand::value value, Sink& sink) {
  simdjson::ondemand::json_type type;
  if (auto error = value.type().get(type)) return error;
  switch (type) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object;
      if (auto error = value.get_object().get(object)) return error;
      return VisitObject(object, sink);
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array;
      if (auto error = value.get_array().get(array)) return error;
      return VisitArray(array, sink);
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view text;
      if (auto error = value.get_string().get(text)) return error;
      sink.bytes += text.size();
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::number: {
      simdjson::ondemand::number number;
      if (auto error = value.get_number().get(number)) return error;
      sink.numbers += number.as_double();
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::boolean: {
      bool flag = false;
      if (auto error = value.get_bool().get(flag)) return error;
      sink.scalars += flag ? 1 : 2;
      return simdjson::SUCCESS;
    }
    case simdjson::ondemand::json_type::null: {
      bool null = false;
      if (auto error = value.is_null().get(null)) return error;
      if (!null) return simdjson::INCORRECT_TYPE;
      ++sink.scalars;
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

// Parses `json` with `parser` and visits the whole document, to its end.
simdjson::error_code VisitDocument(simdjson::ondemand::parser& parser, const simdjson::padded_string& json,
                                   Sink& sink) {
  simdjson::ondemand::document doc;
  if (auto error = parser.iterate(json).get(doc)) return error;
  simdjson::ondemand::value root;
  if (auto error = doc.get_value().get(root)) return error;
  if (auto error = VisitValue(root, sink)) return error;
  // Past the last token there is no location: anything else was left unread.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return simdjson::TRAILING_CONTENT;
  return simdjson::SUCCESS;
}

absl::Status SimdjsonStatus(simdjson::error_code error) {
  return absl::InternalError(absl::StrCat("simdjson: ", simdjson::error_message(error)));
}

// The issue #18 baseline: one parser per benchmark, kept across iterations
// as a server keeps one per thread, its buffers sized by an untimed parse
// first, so the loop measures parsing and not the parser's first allocation.
void SimdjsonParse(benchmark::State& state, const std::shared_ptr<const simdjson::padded_string>& json, int messages) {
  simdjson::ondemand::parser parser;
  Sink sink;
  if (simdjson::error_code error = VisitDocument(parser, *json, sink)) {
    state.SkipWithError(simdjson::error_message(error));
    return;
  }
  Measure(state, messages, json->size(), [&] {
    if (simdjson::error_code error = VisitDocument(parser, *json, sink)) {
      state.SkipWithError(simdjson::error_message(error));
    }
  });
  benchmark::DoNotOptimize(sink);
}

// Registers the baseline of a case, once simdjson has read all of it.
void RegisterSimdjson(const std::string& name, int messages, const std::string& text) {
  auto json = std::make_shared<const simdjson::padded_string>(text);
  simdjson::ondemand::parser check;
  Sink ignored;
  if (simdjson::error_code error = VisitDocument(check, *json, ignored)) Fail(name, SimdjsonStatus(error));
  benchmark::RegisterBenchmark(absl::StrCat("simdjson_parse/", name).c_str(), &SimdjsonParse, json, messages);
}

template <typename Message>
void Register(std::shared_ptr<const CodecCase<Message>> c) {
  absl::StatusOr<Message> decoded = c->decode(c->text);
  if (!decoded.ok()) Fail(c->name, decoded.status());
  auto message = std::make_shared<const Message>(*std::move(decoded));

  RegisterSimdjson(c->name, c->messages, c->text);

  benchmark::RegisterBenchmark(absl::StrCat("parse_only/", c->name).c_str(), [c](benchmark::State& state) {
    Measure(state, c->messages, c->text.size(), [&] {
      rapidjson::Document doc;
      doc.Parse(c->text.data(), c->text.size());
      benchmark::DoNotOptimize(doc.HasParseError());
    });
  });
  benchmark::RegisterBenchmark(absl::StrCat("decode/", c->name).c_str(), [c](benchmark::State& state) {
    Measure(state, c->messages, c->text.size(), [&] {
      absl::StatusOr<Message> out = c->decode(c->text);
      benchmark::DoNotOptimize(out);
    });
  });
  benchmark::RegisterBenchmark(absl::StrCat("encode/", c->name).c_str(), [c, message](benchmark::State& state) {
    Measure(state, c->messages, c->text.size(), [&] {
      std::string out = c->encode(*message);
      benchmark::DoNotOptimize(out);
    });
  });
  benchmark::RegisterBenchmark(absl::StrCat("decode_encode/", c->name).c_str(), [c](benchmark::State& state) {
    Measure(state, c->messages, c->text.size(), [&] {
      absl::StatusOr<Message> in = c->decode(c->text);
      std::string out = c->encode(*in);
      benchmark::DoNotOptimize(out);
    });
  });
}

// The codec's own read path: ParseJson into the document DecodeDeviceFrame
// reads frames with, with the bridge's limits, then the message decoder.
template <typename Message, typename Decoder>
std::function<absl::StatusOr<Message>(absl::string_view)> ParseThen(Decoder decoder) {
  return [decoder](absl::string_view text) -> absl::StatusOr<Message> {
    codec::ScratchDocument doc;
    if (absl::Status status = codec::ParseJson(text, codec::ParseLimits{}, doc); !status.ok()) return status;
    codec::JsonPath path;
    return decoder(doc, Dialect::kStandard, path);
  };
}

void RegisterSeedRequest() {
  auto c = std::make_shared<CodecCase<DeviceRequest>>();
  c->name = "seed_device_request";
  c->text = Minified(ReadFile(absl::StrCat(HIVE_FIXTURES_DIR, "/seed_device_request.json")));
  c->decode = ParseThen<DeviceRequest>(&codec::DecodeDeviceRequest);
  c->encode = [](const DeviceRequest& request) { return *codec::EncodeDeviceRequest(request, Dialect::kStandard); };
  Register<DeviceRequest>(c);
}

void RegisterEvent(const char* stem) {
  auto c = std::make_shared<CodecCase<DeviceEvent>>();
  c->name = std::string(absl::StripPrefix(stem, "event_"));
  c->text = GoldenEvent(stem);
  c->decode = ParseThen<DeviceEvent>(&codec::DecodeDeviceEvent);
  c->encode = [](const DeviceEvent& event) { return codec::EncodeDeviceEvent(event, Dialect::kStandard); };
  Register<DeviceEvent>(c);
}

// A Hivekit batch frame: the device events in turn, kBatchSize in all. The
// bridge never writes batches, so encoding one is the events' encodings
// joined into an array.
void RegisterBatch() {
  using Items = std::vector<codec::FrameItem>;
  auto c = std::make_shared<CodecCase<Items>>();
  c->name = absl::StrCat("batch_", kBatchSize);
  c->messages = kBatchSize;
  c->text = "[";
  for (int i = 0; i < kBatchSize; ++i) {
    if (i > 0) c->text += ",";
    c->text += GoldenEvent(kDeviceEventStems[i % std::size(kDeviceEventStems)]);
  }
  c->text += "]";
  c->decode = [](absl::string_view text) { return codec::DecodeDeviceFrame(text, Dialect::kStandard, {}); };
  c->encode = [](const Items& items) {
    std::string out = "[";
    for (const codec::FrameItem& item : items) {
      if (out.size() > 1) out += ",";
      out += codec::EncodeDeviceEvent(std::get<DeviceEvent>(*item.message), Dialect::kStandard);
    }
    out += "]";
    return out;
  };
  Register<Items>(c);
}

}  // namespace
}  // namespace hive::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hive::bench::RegisterSeedRequest();
  for (const char* stem : hive::bench::kDeviceEventStems) hive::bench::RegisterEvent(stem);
  for (const char* stem : hive::bench::kBridgeEventStems) hive::bench::RegisterEvent(stem);
  hive::bench::RegisterBatch();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
