// Property tests of the codec's promise: translation is lossless.
//
//   Decode(Encode(x)) == x        for generated DeviceEvent and DeviceRequest
//                                 messages in canonical form, both dialects;
//   Encode(Decode(json)) ≡ json   for generated JSON carrying unknown members.
//
// Generation is deterministic: every message comes from its own
// std::mt19937_64 seeded with (suite seed, index), so a failure names the
// seed and index that reproduce it, with the JSON involved.
//
// Canonical form (what decoding yields, so equality is the right check):
//   - sequence, epoch and received_at are never set (they never travel);
//   - the body oneof is set and matches `type` (generic for unknown types);
//   - an `extra` Struct is either unset or has at least one member;
//   - a Struct number is any finite double, or the nearest double of an
//     integer beyond 2^53 together with its literal in the owner's
//     exact_numbers under the JSON Pointer from the owning object;
//   - keys of `extra` are not schema keys (field or envelope names) in the
//     dialect used; in the compact dialect the standard names are fair game.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/json_document.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/unit/codec/codec_test_support.h"
#include "tests/unit/codec/json_assertions.h"

namespace hive::codec {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using hive::bridge::v1::AppInstanceCommand;
using hive::bridge::v1::AppInstanceStatus;
using hive::bridge::v1::Application;
using hive::bridge::v1::DeviceCommand;
using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::DeviceRequest;
using hive::bridge::v1::SchedulerAction;
using hive::bridge::v1::UpgradeDevice;
using hive::testing::DecodeEventText;
using hive::testing::DecodeRequestText;
using hive::testing::DialectName;
using hive::testing::JsonEqual;
using hive::testing::ProtoEqual;
using ExactMap = google::protobuf::Map<std::string, std::string>;

constexpr size_t kMessagesPerSeed = 1000;
constexpr size_t kMaxReportedFailures = 3;
constexpr int kMaxStructDepth = 4;

// RFC 6901, written independently of the codec's own.
std::string PointerKey(absl::string_view key) {
  std::string out = "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// True when a double holds the integer of this magnitude exactly.
bool DoubleHoldsMagnitude(uint64_t magnitude) {
  if (magnitude == 0) return true;
  const int trailing = __builtin_ctzll(magnitude);
  return (magnitude >> trailing) < (uint64_t{1} << 53);
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

const char* const kTypedEventTypes[] = {"instances",    "instance-state",   "device-version",      "device-state",
                                        "device-alive", "device-connected", "device-disconnected", "gap"};

const std::set<std::string>& TypedWireCommands() {
  static const auto* const names = new std::set<std::string>{
      "UpgradeDevice.upgrade", "DeviceCommand.check_disk_space", "DeviceCommand.reboot",        "SchedulerAction.start",
      "SchedulerAction.stop",  "AppInstanceCommand.create_user", "AppInstanceCommand.configure"};
  return *names;
}

// Schema fields of type google.protobuf.Struct, by standard name.
const std::set<std::string> kStructFieldNames = {"storage_apikeys", "arguments", "result", "payload"};

class Generator {
 public:
  Generator(uint64_t seed, size_t index, Dialect dialect) {
    std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(index)};
    rng_.seed(seq);
    for (const auto& [standard, compact] : CompactKeyTable()) {
      reserved_.insert(std::string(dialect == Dialect::kCompact ? compact : standard));
      // A compact frame may not use the standard spelling of a Struct field
      // (it would share that field's JSON Pointers); the codec refuses it.
      if (dialect == Dialect::kCompact && kStructFieldNames.count(std::string(standard)) > 0) {
        reserved_.insert(std::string(standard));
      }
      other_dialect_keys_.push_back(std::string(dialect == Dialect::kCompact ? standard : compact));
      schema_keys_.push_back(std::string(standard));
      schema_keys_.push_back(std::string(compact));
    }
  }

  DeviceEvent Event() {
    DeviceEvent event;
    event.set_device_id(Id());
    event.set_account_id(Id());
    event.set_service(Coin(0.8) ? (Coin() ? "hive-device" : "hive-backend") : Text());
    if (Coin(0.65)) {
      event.set_type(kTypedEventTypes[Below(std::size(kTypedEventTypes))]);
    } else {
      event.set_type(UnknownEventType());
    }
    ExactMap& exact = *event.mutable_exact_numbers();
    switch (BodyFor(event.type())) {
      case DeviceEvent::kInstances: {
        auto& body = *event.mutable_instances();
        for (size_t i = 0, n = Below(4); i < n; ++i) FillInstance(*body.add_instances());
        break;
      }
      case DeviceEvent::kInstanceState: {
        auto& body = *event.mutable_instance_state();
        if (Coin()) body.set_instance(Text());
        if (Coin()) body.set_state(Text());
        if (Coin()) body.set_encrypted_storage_apikeys(Text());
        if (Coin()) FillStruct(*body.mutable_storage_apikeys(), 1, "/storage_apikeys", &exact, false);
        break;
      }
      case DeviceEvent::kDeviceVersion:
        event.mutable_device_version();
        if (Coin()) event.mutable_device_version()->set_version(Text());
        break;
      case DeviceEvent::kDeviceState: {
        auto& body = *event.mutable_device_state();
        if (Coin()) body.set_state(Text());
        if (Coin()) body.set_message(Text());
        if (Coin()) body.set_disk_free_bytes(AnyUint64());
        if (Coin()) body.set_disk_total_bytes(AnyUint64());
        break;
      }
      case DeviceEvent::kAlive:
        event.mutable_alive();
        if (Coin()) event.mutable_alive()->set_address(Text());
        break;
      case DeviceEvent::kConnected:
        event.mutable_connected();
        if (Coin()) event.mutable_connected()->set_address(Text());
        if (Coin()) event.mutable_connected()->set_protocol(Coin() ? "hive.compact.v1" : Text());
        break;
      case DeviceEvent::kDisconnected:
        event.mutable_disconnected();
        if (Coin()) event.mutable_disconnected()->set_close_code(static_cast<int32_t>(rng_()));
        if (Coin()) event.mutable_disconnected()->set_reason(Text());
        break;
      case DeviceEvent::kGap:
        event.mutable_gap()->set_missed(Coin() ? AnyUint64() : 0);
        event.mutable_gap()->set_reason(static_cast<hive::bridge::v1::GapReason>(Below(4)));
        break;
      default:
        event.mutable_generic();
        break;
    }
    MaybeFillExtra(*event.mutable_extra(), exact, event.has_generic() ? 0.8 : 0.5);
    if (event.extra().fields().empty()) event.clear_extra();
    return event;
  }

  DeviceRequest Request() {
    DeviceRequest request;
    request.set_request_id(Id());
    request.set_device_id(Id());
    request.set_account_id(Id());
    auto& command = *request.mutable_command();
    switch (Below(5)) {
      case 0: {
        UpgradeDevice& upgrade = *command.mutable_upgrade_device();
        upgrade.set_action(UpgradeDevice::ACTION_UPGRADE);
        if (Coin()) upgrade.set_version(Text());
        if (Coin()) upgrade.set_force(Coin());
        MaybeExtraOf(upgrade);
        break;
      }
      case 1: {
        DeviceCommand& device = *command.mutable_device_command();
        device.set_action(Coin() ? DeviceCommand::ACTION_CHECK_DISK_SPACE : DeviceCommand::ACTION_REBOOT);
        if (Coin()) FillStruct(*device.mutable_arguments(), 1, "/arguments", device.mutable_exact_numbers(), false);
        MaybeExtraOf(device);
        break;
      }
      case 2: {
        SchedulerAction& action = *command.mutable_scheduler_action();
        action.set_action(Coin() ? SchedulerAction::ACTION_START : SchedulerAction::ACTION_STOP);
        if (Coin()) action.set_account(Id());
        if (Coin()) FillApplication(*action.mutable_application());
        if (Coin()) action.set_encrypted_storage_apikeys(Text());
        if (Coin()) action.set_instance(Id());
        for (size_t i = 0, n = Below(4); i < n; ++i) {
          auto& link = (*action.mutable_links())[DataKey()];
          if (Coin()) link.set_domain(Text());
          if (Coin()) link.set_token(Id());
          MaybeExtraOf(link);
        }
        if (Coin()) {
          FillStruct(*action.mutable_storage_apikeys(), 1, "/storage_apikeys", action.mutable_exact_numbers(), false);
        }
        MaybeExtraOf(action);
        break;
      }
      case 3: {
        AppInstanceCommand& app = *command.mutable_app_instance_command();
        app.set_action(Coin() ? AppInstanceCommand::ACTION_CREATE_USER : AppInstanceCommand::ACTION_CONFIGURE);
        if (Coin()) app.set_account(Id());
        if (Coin()) app.set_instance(Id());
        if (Coin()) FillStruct(*app.mutable_arguments(), 1, "/arguments", app.mutable_exact_numbers(), false);
        MaybeExtraOf(app);
        break;
      }
      default: {
        auto& raw = *command.mutable_raw();
        std::string name;
        do {
          name = Coin() ? absl::StrCat(Text(1, 8), ".", Text(1, 8)) : Text(1, 12);
        } while (TypedWireCommands().count(name) != 0);
        raw.set_command(name);
        // Payload contents are a Struct: any key, never renamed.
        FillStruct(*raw.mutable_payload(), 1, "", raw.mutable_payload_exact_numbers(), false);
        break;
      }
    }
    if (Coin(0.4)) {
      auto& state = *request.mutable_state();
      if (Coin()) state.set_app_instance_id(Id());
      if (Coin()) state.set_device_id(Id());
      if (Coin()) state.set_force(Coin());
      state.set_state(static_cast<hive::bridge::v1::AppInstanceState>(Below(3)));
      MaybeExtraOf(state);
    }
    MaybeExtraOf(request);
    return request;
  }

  // Adds 1-3 unknown members (not schema keys in this dialect, not already
  // present) holding random JSON, big integers as exact literals included.
  void InjectUnknownMembers(rapidjson::Value& object, rapidjson::Document::AllocatorType& allocator) {
    for (size_t i = 0, n = 1 + Below(3); i < n; ++i) {
      std::string key;
      do {
        key = ExtraKey();
      } while (object.HasMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
      rapidjson::Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), allocator);
      object.AddMember(name, JsonValue(1, allocator), allocator);
    }
  }

  bool Coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng_); }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

 private:
  static DeviceEvent::BodyCase BodyFor(const std::string& type) {
    DeviceEvent probe;
    probe.set_type(type);
    SetBodyForType(probe);
    return probe.body_case();
  }

  // Valid UTF-8 of 0..max code points: ASCII with quotes, backslashes, the
  // pointer characters ~ and /, control characters and NUL, and 2-, 3- and
  // 4-byte sequences (never a surrogate).
  std::string Text(size_t min_length = 0, size_t max_length = 12) {
    std::string out;
    const size_t length = min_length + Below(max_length - min_length + 1);
    static constexpr char kSpecial[] = {'"', '\\', '/', '~', '.', ' ', '\0', '\n', '\t', '\x7f'};
    for (size_t i = 0; i < length; ++i) {
      const size_t bucket = Below(100);
      uint32_t cp = 0;
      if (bucket < 40) {
        cp = static_cast<uint32_t>(0x20 + Below(0x5F));
      } else if (bucket < 50) {
        cp = static_cast<unsigned char>(kSpecial[Below(sizeof(kSpecial))]);
      } else if (bucket < 55) {
        cp = static_cast<uint32_t>(Below(0x20));
      } else if (bucket < 70) {
        cp = static_cast<uint32_t>(0x80 + Below(0x800 - 0x80));
      } else if (bucket < 88) {
        do {
          cp = static_cast<uint32_t>(0x800 + Below(0x10000 - 0x800));
        } while (cp >= 0xD800 && cp <= 0xDFFF);
      } else {
        cp = static_cast<uint32_t>(0x10000 + Below(0x110000 - 0x10000));
      }
      AppendUtf8(out, cp);
    }
    return out;
  }

  std::string Id() {
    if (Coin(0.3)) return Text();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 36; ++i) id += (i == 8 || i == 13 || i == 18 || i == 23) ? '-' : kHex[Below(16)];
    return id;
  }

  std::string UnknownEventType() {
    for (;;) {
      std::string type = Coin() ? absl::StrCat("x-", Text(0, 8)) : Text(1, 10);
      if (BodyFor(type) == DeviceEvent::kGeneric && type != "device-response") return type;
    }
  }

  // A key for `extra`: random text, the other dialect's spelling of a
  // schema key, or a name the codec treats specially elsewhere.
  std::string ExtraKey() {
    static const char* const kTricky[] = {"extra", "exact_numbers", "action", "", "a/b", "~0", "~1", "x.y", "🐝"};
    for (;;) {
      std::string key;
      const size_t pick = Below(10);
      if (pick == 0) {
        key = other_dialect_keys_[Below(other_dialect_keys_.size())];
      } else if (pick == 1) {
        key = kTricky[Below(std::size(kTricky))];
      } else {
        key = Text(0, 10);
      }
      if (reserved_.count(key) == 0) return key;
    }
  }

  // A key that is data, not schema (Struct contents, link names): never
  // renamed, so now and then a schema key in either spelling.
  std::string DataKey() { return Coin(0.15) ? schema_keys_[Below(schema_keys_.size())] : Text(0, 8); }

  uint64_t AnyUint64() {
    switch (Below(4)) {
      case 0:
        return Below(1000);
      case 1:
        return std::numeric_limits<uint64_t>::max() - Below(3);
      default:
        return rng_() >> Below(64);
    }
  }

  // Any finite double, weighted toward the awkward ones.
  double AnyDouble() {
    static const double kEdges[] = {0.0,
                                    -0.0,
                                    0.1,
                                    -1.5,
                                    9007199254740992.0,
                                    -9007199254740992.0,
                                    9007199254740994.0,
                                    9223372036854775808.0,
                                    18446744073709551616.0,
                                    1e21,
                                    1e300,
                                    -1e-300,
                                    std::numeric_limits<double>::max(),
                                    std::numeric_limits<double>::lowest(),
                                    std::numeric_limits<double>::min(),
                                    std::numeric_limits<double>::denorm_min(),
                                    std::numeric_limits<double>::epsilon()};
    switch (Below(4)) {
      case 0:
        return static_cast<double>(static_cast<int64_t>(Below(2001)) - 1000);
      case 1:
        return kEdges[Below(std::size(kEdges))];
      case 2:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
      default:
        for (;;) {
          uint64_t bits = rng_();
          double value = 0;
          std::memcpy(&value, &bits, sizeof value);
          if (std::isfinite(value)) return value;
        }
    }
  }

  // An integer a double cannot hold: its literal and its nearest double.
  std::pair<std::string, double> BigInteger() {
    for (;;) {
      const uint64_t magnitude = rng_() >> Below(11);
      if (magnitude <= (uint64_t{1} << 53) || DoubleHoldsMagnitude(magnitude)) continue;
      if (Coin() && magnitude <= uint64_t{std::numeric_limits<int64_t>::max()}) {
        const int64_t negative = -static_cast<int64_t>(magnitude);
        return {std::to_string(negative), static_cast<double>(negative)};
      }
      return {std::to_string(magnitude), static_cast<double>(magnitude)};
    }
  }

  Value StructValue(int depth, const std::string& pointer, ExactMap* exact) {
    Value value;
    const size_t pick = Below(depth < kMaxStructDepth ? 8 : 6);
    switch (pick) {
      case 0:
        value.set_null_value(google::protobuf::NULL_VALUE);
        break;
      case 1:
        value.set_bool_value(Coin());
        break;
      case 2:
      case 3:
        value.set_string_value(Text());
        break;
      case 4:
        value.set_number_value(AnyDouble());
        break;
      case 5:
        if (exact != nullptr) {
          auto [literal, nearest] = BigInteger();
          value.set_number_value(nearest);
          (*exact)[pointer] = literal;
        } else {
          value.set_number_value(AnyDouble());
        }
        break;
      case 6:
        FillStruct(*value.mutable_struct_value(), depth + 1, pointer, exact, false);
        break;
      default: {
        auto& list = *value.mutable_list_value();
        for (size_t i = 0, n = Below(4); i < n; ++i) {
          *list.add_values() = StructValue(depth + 1, absl::StrCat(pointer, "/", i), exact);
        }
        break;
      }
    }
    return value;
  }

  // Struct contents: any keys (Struct fields are never renamed).
  void FillStruct(Struct& object, int depth, const std::string& pointer, ExactMap* exact, bool at_least_one) {
    object.Clear();
    for (size_t i = 0, n = (at_least_one ? 1 : 0) + Below(4); i < n; ++i) {
      std::string key = DataKey();
      if (object.fields().contains(key)) continue;
      (*object.mutable_fields())[key] = StructValue(depth, pointer + PointerKey(key), exact);
    }
  }

  // An owner's extra: unset, or at least one member under a key that is not
  // a schema key in this dialect.
  void MaybeFillExtra(Struct& extra, ExactMap& exact, double probability) {
    if (!Coin(probability)) return;
    for (size_t i = 0, n = 1 + Below(3); i < n; ++i) {
      std::string key = ExtraKey();
      if (extra.fields().contains(key)) continue;
      (*extra.mutable_fields())[key] = StructValue(1, PointerKey(key), &exact);
    }
  }

  template <typename Owner>
  void MaybeExtraOf(Owner& owner) {
    MaybeFillExtra(*owner.mutable_extra(), *owner.mutable_exact_numbers(), 0.5);
    if (owner.extra().fields().empty()) owner.clear_extra();
  }

  void FillApplication(Application& application) {
    if (Coin()) application.set_appstore(Text());
    if (Coin()) application.set_name(Text());
    if (Coin()) application.set_version(Text());
    MaybeExtraOf(application);
  }

  void FillInstance(AppInstanceStatus& status) {
    if (Coin()) status.set_instance(Id());
    if (Coin()) FillApplication(*status.mutable_application());
    if (Coin()) status.set_state(Coin() ? "AppInstanceState.running" : Text());
    if (Coin()) status.set_health(Text());
    MaybeExtraOf(status);
  }

  rapidjson::Value JsonString(const std::string& text, rapidjson::Document::AllocatorType& allocator) {
    return rapidjson::Value(text.data(), static_cast<rapidjson::SizeType>(text.size()), allocator);
  }

  rapidjson::Value JsonValue(int depth, rapidjson::Document::AllocatorType& allocator) {
    rapidjson::Value value;
    switch (Below(depth < kMaxStructDepth ? 9 : 7)) {
      case 0:
        value.SetNull();
        break;
      case 1:
        value.SetBool(Coin());
        break;
      case 2:
      case 3:
        value = JsonString(Text(), allocator);
        break;
      case 4:
        value.SetInt64(static_cast<int64_t>(rng_()) >> Below(64));
        break;
      case 5:
        value.SetUint64(rng_() >> Below(64));
        break;
      case 6:
        value.SetDouble(AnyDouble());
        break;
      case 7:
        value.SetObject();
        for (size_t i = 0, n = Below(4); i < n; ++i) {
          const std::string key = DataKey();
          if (value.HasMember(rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size())))) continue;
          value.AddMember(JsonString(key, allocator), JsonValue(depth + 1, allocator), allocator);
        }
        break;
      default:
        value.SetArray();
        for (size_t i = 0, n = Below(4); i < n; ++i) value.PushBack(JsonValue(depth + 1, allocator), allocator);
        break;
    }
    return value;
  }

  std::mt19937_64 rng_;
  std::set<std::string> reserved_;
  std::vector<std::string> other_dialect_keys_;
  std::vector<std::string> schema_keys_;
};

// JSON equality that does not let a double stand in for an integer it cannot
// hold: two integers must be the same integer; an integer and a double are
// equal only if the double holds the integer exactly.
bool SameNumber(const rapidjson::Value& a, const rapidjson::Value& b) {
  const bool a_integer = a.IsInt64() || a.IsUint64();
  const bool b_integer = b.IsInt64() || b.IsUint64();
  if (a_integer && b_integer) {
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    return false;
  }
  if (!a_integer && !b_integer) return a.GetDouble() == b.GetDouble();
  const rapidjson::Value& integer = a_integer ? a : b;
  const rapidjson::Value& floating = a_integer ? b : a;
  const uint64_t magnitude =
      integer.IsUint64() ? integer.GetUint64() : uint64_t{0} - static_cast<uint64_t>(integer.GetInt64());
  return DoubleHoldsMagnitude(magnitude) && integer.GetDouble() == floating.GetDouble();
}

bool SameJson(const rapidjson::Value& a, const rapidjson::Value& b, std::string& where) {
  if (a.IsNumber() && b.IsNumber()) return SameNumber(a, b);
  if (a.GetType() != b.GetType()) return false;
  switch (a.GetType()) {
    case rapidjson::kStringType:
      return ViewOf(a) == ViewOf(b);
    case rapidjson::kArrayType:
      if (a.Size() != b.Size()) return false;
      for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
        if (!SameJson(a[i], b[i], where)) {
          where = absl::StrCat("/", i, where);
          return false;
        }
      }
      return true;
    case rapidjson::kObjectType:
      if (a.MemberCount() != b.MemberCount()) return false;
      for (const auto& member : a.GetObject()) {
        auto other = b.FindMember(member.name);
        if (other == b.MemberEnd() || !SameJson(member.value, other->value, where)) {
          where.insert(0, PointerKey(ViewOf(member.name)));
          return false;
        }
      }
      return true;
    default:
      return true;  // null, true, false: the type says it all
  }
}

::testing::AssertionResult StrictlySameJson(const std::string& expected, const std::string& actual) {
  rapidjson::Document a;
  rapidjson::Document b;
  a.Parse<rapidjson::kParseFullPrecisionFlag>(expected.data(), expected.size());
  b.Parse<rapidjson::kParseFullPrecisionFlag>(actual.data(), actual.size());
  if (a.HasParseError() || b.HasParseError()) return ::testing::AssertionFailure() << "not JSON";
  std::string where;
  if (SameJson(a, b, where)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "JSON differs at \"" << where << "\"";
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

rapidjson::Value* MemberOf(rapidjson::Value& object, absl::string_view standard_key, Dialect dialect) {
  if (!object.IsObject()) return nullptr;
  absl::string_view key = WireKey(standard_key, dialect);
  auto it = object.FindMember(rapidjson::StringRef(key.data(), key.size()));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The objects of an encoded message that own an `extra`: where a device or a
// backend may add members the schema does not name.
std::vector<rapidjson::Value*> ExtraOwners(rapidjson::Value& root, bool is_request, Dialect dialect) {
  std::vector<rapidjson::Value*> owners;
  auto add = [&owners](rapidjson::Value* object) {
    if (object != nullptr && object->IsObject()) owners.push_back(object);
  };
  add(&root);
  if (is_request) {
    if (rapidjson::Value* payload = MemberOf(root, "payload", dialect)) {
      add(payload);  // a raw payload is a Struct: any member is fine there too
      add(MemberOf(*payload, "application", dialect));
      if (rapidjson::Value* links = MemberOf(*payload, "links", dialect); links && links->IsObject()) {
        for (auto& link : links->GetObject()) add(&link.value);
      }
    }
    add(MemberOf(root, "state", dialect));
  } else if (rapidjson::Value* instances = MemberOf(root, "instances", dialect); instances && instances->IsArray()) {
    for (auto& status : instances->GetArray()) {
      add(&status);
      add(MemberOf(status, "application", dialect));
    }
  }
  return owners;
}

using SeedAndDialect = std::tuple<uint64_t, Dialect>;

class RoundTripProperty : public ::testing::TestWithParam<SeedAndDialect> {
 protected:
  uint64_t seed() const { return std::get<0>(GetParam()); }
  Dialect dialect() const { return std::get<1>(GetParam()); }

  // Records a failure naming the reproduction; true while more may be reported.
  bool Report(size_t index, const std::string& json, const std::string& what) {
    ADD_FAILURE() << "seed " << seed() << " index " << index << " dialect " << DialectName(dialect()) << ": " << what
                  << "\n  json: " << json;
    return ++failures_ < kMaxReportedFailures;
  }

 private:
  size_t failures_ = 0;
};

TEST_P(RoundTripProperty, DecodingAnEncodedEventGivesTheEvent) {
  for (size_t index = 0; index < kMessagesPerSeed; ++index) {
    const DeviceEvent event = Generator(seed(), index, dialect()).Event();
    const std::string json = EncodeDeviceEvent(event, dialect());
    absl::StatusOr<DeviceEvent> decoded = DecodeEventText(json, dialect());
    if (!decoded.ok()) {
      if (!Report(index, json, decoded.status().ToString())) return;
      continue;
    }
    if (::testing::AssertionResult same = ProtoEqual(event, *decoded); !same) {
      if (!Report(index, json, same.message())) return;
    }
  }
}

TEST_P(RoundTripProperty, DecodingAnEncodedRequestGivesTheRequest) {
  for (size_t index = 0; index < kMessagesPerSeed; ++index) {
    const DeviceRequest request = Generator(seed(), index, dialect()).Request();
    absl::StatusOr<std::string> json = EncodeDeviceRequest(request, dialect());
    if (!json.ok()) {
      if (!Report(index, request.DebugString(), json.status().ToString())) return;
      continue;
    }
    absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(*json, dialect());
    if (!decoded.ok()) {
      if (!Report(index, *json, decoded.status().ToString())) return;
      continue;
    }
    if (::testing::AssertionResult same = ProtoEqual(request, *decoded); !same) {
      if (!Report(index, *json, same.message())) return;
    }
  }
}

TEST_P(RoundTripProperty, EncodingADecodedEventWithUnknownMembersGivesTheSameJson) {
  for (size_t index = 0; index < kMessagesPerSeed; ++index) {
    Generator generator(seed(), index, dialect());
    rapidjson::Document doc;
    doc.Parse(EncodeDeviceEvent(generator.Event(), dialect()).c_str());
    for (rapidjson::Value* owner : ExtraOwners(doc, false, dialect())) {
      if (generator.Coin(0.7)) generator.InjectUnknownMembers(*owner, doc.GetAllocator());
    }
    const std::string json = Serialize(doc);
    absl::StatusOr<DeviceEvent> decoded = DecodeEventText(json, dialect());
    if (!decoded.ok()) {
      if (!Report(index, json, decoded.status().ToString())) return;
      continue;
    }
    const std::string again = EncodeDeviceEvent(*decoded, dialect());
    if (::testing::AssertionResult same = StrictlySameJson(json, again); !same) {
      if (!Report(index, json, absl::StrCat(same.message(), "\n  re-encoded: ", again))) return;
    }
  }
}

TEST_P(RoundTripProperty, EncodingADecodedRequestWithUnknownMembersGivesTheSameJson) {
  for (size_t index = 0; index < kMessagesPerSeed; ++index) {
    Generator generator(seed(), index, dialect());
    absl::StatusOr<std::string> encoded = EncodeDeviceRequest(generator.Request(), dialect());
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    rapidjson::Document doc;
    doc.Parse(encoded->c_str());
    for (rapidjson::Value* owner : ExtraOwners(doc, true, dialect())) {
      if (generator.Coin(0.7)) generator.InjectUnknownMembers(*owner, doc.GetAllocator());
    }
    const std::string json = Serialize(doc);
    absl::StatusOr<DeviceRequest> decoded = DecodeRequestText(json, dialect());
    if (!decoded.ok()) {
      if (!Report(index, json, decoded.status().ToString())) return;
      continue;
    }
    absl::StatusOr<std::string> again = EncodeDeviceRequest(*decoded, dialect());
    ASSERT_TRUE(again.ok()) << again.status();
    if (::testing::AssertionResult same = StrictlySameJson(json, *again); !same) {
      if (!Report(index, json, absl::StrCat(same.message(), "\n  re-encoded: ", *again))) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RoundTripProperty,
                         ::testing::Combine(::testing::Values(uint64_t{0x5EED0001}, uint64_t{0x5EED0002},
                                                              uint64_t{0x5EED0003}),
                                            ::testing::Values(Dialect::kStandard, Dialect::kCompact)),
                         [](const ::testing::TestParamInfo<SeedAndDialect>& info) {
                           return absl::StrCat("seed", std::get<0>(info.param) & 0xFFFF, "_",
                                               DialectName(std::get<1>(info.param)));
                         });

// exact_numbers pointers name a typed Struct field by its standard key in
// both dialects (so a message is the same whichever dialect it came in). In
// the compact dialect that standard key is an ordinary unknown member, so
// its pointers live in the same namespace: both literals must survive.
// A standard spelling in a compact frame would share its JSON Pointers (and
// so its exact_numbers) with the field it names: it does not fit the typed
// body, by name. An event is then read generic (both members in `extra`
// under their own keys, so both literals survive), a request is refused.
TEST(RoundTripProperty, CompactFrameRefusesTheStandardSpellingOfAField) {
  const std::string json = R"({"dev":"d","acc":"a","svc":"hive-device","typ":"instance-state",)"
                           R"("sak":{"q":9007199254740993},"storage_apikeys":{"q":9007199254740995}})";
  absl::StatusOr<DeviceEvent> event = DecodeEventText(json, Dialect::kCompact);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_TRUE(event->has_generic());
  EXPECT_EQ(event->schema_error(), "storage_apikeys: the compact dialect spells this field \"sak\"");
  EXPECT_TRUE(JsonEqual(json, EncodeDeviceEvent(*event, Dialect::kCompact)));

  absl::StatusOr<DeviceRequest> request = DecodeRequestText(
      R"({"acc":"a","cmd":"DeviceCommand.reboot","typ":"device-request","svc":"hive-backend","req":"r","dev":"d",)"
      R"("dat":{"arg":{"n":9007199254740993},"arguments":{"n":9007199254740995}}})",
      Dialect::kCompact);
  ASSERT_FALSE(request.ok());
  EXPECT_EQ(request.status().message(), "payload.arguments: the compact dialect spells this field \"arg\"");
}

// Integral doubles within 64 bits are written as integers, not "…000.0".
TEST(RoundTripProperty, IntegralDoublesBeyond2To53AreWrittenAsIntegers) {
  DeviceEvent event;
  event.set_type("custom");
  event.mutable_generic();
  (*event.mutable_extra()->mutable_fields())["big"].set_number_value(1152921504606846976.0);  // 2^60
  EXPECT_NE(EncodeDeviceEvent(event, Dialect::kStandard).find(R"("big":1152921504606846976)"), std::string::npos)
      << EncodeDeviceEvent(event, Dialect::kStandard);
}

// Sanity of the generator itself: the properties above are only as strong
// as the variety of what it makes.
TEST(RoundTripProperty, GeneratorCoversEveryBodyCommandAndExactNumbers) {
  std::set<int> bodies;
  std::set<std::string> commands;
  size_t with_exact = 0;
  size_t with_extra = 0;
  for (size_t index = 0; index < kMessagesPerSeed; ++index) {
    Generator generator(0x5EED0001, index, Dialect::kStandard);
    const DeviceEvent event = generator.Event();
    bodies.insert(event.body_case());
    with_exact += event.exact_numbers().empty() ? 0 : 1;
    with_extra += event.has_extra() ? 1 : 0;
    const DeviceRequest request = generator.Request();
    // Read from the encoding: WireCommandOf would refuse the other dialect's
    // spellings the generator puts in `extra` (a backend must not send them).
    const absl::StatusOr<std::string> encoded = EncodeDeviceRequest(request, Dialect::kStandard);
    rapidjson::Document doc;
    if (encoded.ok()) doc.Parse(encoded->c_str());
    const bool named = encoded.ok() && doc.IsObject() && doc.HasMember("command") && doc["command"].IsString();
    commands.insert(request.command().has_raw() ? "raw" : named ? doc["command"].GetString() : "?");
  }
  EXPECT_EQ(bodies.size(), 9u);
  EXPECT_EQ(commands.size(), TypedWireCommands().size() + 1);
  EXPECT_GT(with_exact, kMessagesPerSeed / 10);
  EXPECT_GT(with_extra, kMessagesPerSeed / 3);
}

}  // namespace
}  // namespace hive::codec
