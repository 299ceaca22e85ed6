// clients/loadgen/json_out.h
// The loadgen's results as one JSON object on one line, built field by
// field; latencies are written as microseconds at the percentiles the
// benchmarks report.
//
//   JsonOut out;
//   out.Field("mode", "request").Field("rps", 1234.5).Latency("latency_us", window);
//   std::puts(out.Close().c_str());
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "clients/loadgen/latency_histogram.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace hive::loadgen {

class JsonOut {
 public:
  JsonOut() : writer_(buffer_) { writer_.StartObject(); }

  JsonOut& Field(absl::string_view key, absl::string_view value) {
    Key(key);
    writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  JsonOut& Field(absl::string_view key, const char* value) { return Field(key, absl::string_view(value)); }
  JsonOut& Field(absl::string_view key, const std::string& value) { return Field(key, absl::string_view(value)); }
  JsonOut& Field(absl::string_view key, bool value) {
    Key(key);
    writer_.Bool(value);
    return *this;
  }
  JsonOut& Field(absl::string_view key, int64_t value) {
    Key(key);
    writer_.Int64(value);
    return *this;
  }
  JsonOut& Field(absl::string_view key, int value) { return Field(key, static_cast<int64_t>(value)); }
  JsonOut& Field(absl::string_view key, uint64_t value) {
    Key(key);
    writer_.Uint64(value);
    return *this;
  }
  JsonOut& Field(absl::string_view key, double value) {
    Key(key);
    writer_.Double(value);
    return *this;
  }

  // {"p50":..,"p99":..,"p999":..,"max":..,"samples":..} in microseconds.
  JsonOut& Latency(absl::string_view key, const LatencySnapshot& latencies) {
    Key(key);
    writer_.StartObject();
    const auto micros = [&](const char* name, double quantile) {
      writer_.Key(name);
      writer_.Double(absl::ToDoubleMicroseconds(latencies.Percentile(quantile)));
    };
    micros("p50", 0.50);
    micros("p99", 0.99);
    micros("p999", 0.999);
    micros("max", 1.0);
    writer_.Key("samples");
    writer_.Uint64(latencies.total());
    writer_.EndObject();
    return *this;
  }

  // Opens a nested object under `key`; close it with EndObject().
  JsonOut& BeginObject(absl::string_view key) {
    Key(key);
    writer_.StartObject();
    return *this;
  }
  JsonOut& EndObject() {
    writer_.EndObject();
    return *this;
  }

  std::string Close() {
    writer_.EndObject();
    return buffer_.GetString();
  }

 private:
  void Key(absl::string_view key) { writer_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size())); }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace hive::loadgen
