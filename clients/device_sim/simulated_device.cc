#include "clients/device_sim/simulated_device.h"

#include <iterator>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bridge/codec/compact_keys.h"
#include "bridge/codec/device_event.h"
#include "bridge/codec/device_request.h"
#include "bridge/codec/device_response.h"
#include "bridge/codec/json_document.h"
#include "bridge/codec/json_path.h"
#include "clients/device_sim/derived_ids.h"
#include "hive/bridge/v1/events.pb.h"

namespace hive::sim {
namespace {

using hive::bridge::v1::DeviceEvent;
using hive::bridge::v1::DeviceRequest;

constexpr absl::string_view kAppStore = "Fractal App Store";
constexpr absl::string_view kRunning = "AppInstanceState.running";
constexpr absl::string_view kFirmwareVersion = "hive-os 2024.06.1";
constexpr uint64_t kDiskTotalBytes = 32'000'000'000;

// The member `standard_key` as the dialect spells it, when it is a string;
// empty otherwise (a message the device has no use for).
absl::string_view StringMember(const rapidjson::Value& object, absl::string_view standard_key, codec::Dialect dialect) {
  const rapidjson::Value* value = codec::FindMember(object, codec::WireKey(standard_key, dialect));
  if (value == nullptr || !value->IsString()) return {};
  return codec::ViewOf(*value);
}

void SetString(google::protobuf::Struct& object, const std::string& key, std::string value) {
  (*object.mutable_fields())[key].set_string_value(std::move(value));
}

}  // namespace

SimulatedDevice::SimulatedDevice(RosterEntry identity, codec::Dialect dialect, RequestPolicy policy, uint64_t seed)
    : identity_(std::move(identity)),
      dialect_(dialect),
      policy_(policy),
      instance_ids_{DerivedUuid(seed, "instance", 0), DerivedUuid(seed, "instance", 1)},
      random_(seed) {}

std::string SimulatedDevice::BearerCredential(absl::string_view token) { return absl::StrCat("Bearer ", token); }

SimulatedDevice::Reaction SimulatedDevice::OnFrame(absl::string_view frame) const {
  Reaction reaction;
  rapidjson::Document doc;
  if (absl::Status parsed = codec::ParseJson(frame, codec::ParseLimits{}, doc); !parsed.ok()) {
    reaction.unreadable.emplace_back(parsed.message());
    return reaction;
  }
  if (doc.IsArray()) {
    for (const rapidjson::Value& message : doc.GetArray()) React(message, reaction);
  } else {
    React(doc, reaction);
  }
  return reaction;
}

void SimulatedDevice::React(const rapidjson::Value& message, Reaction& reaction) const {
  if (!message.IsObject()) {
    reaction.unreadable.push_back(absl::StrCat("expected object, got ", codec::DescribeJson(message)));
    return;
  }
  const absl::string_view type = StringMember(message, "type", dialect_);
  if (type == "authenticated") {
    reaction.authenticated = true;
  } else if (type == "error") {
    reaction.bridge_errors.emplace_back(StringMember(message, "error", dialect_));
  } else if (type == "device-request") {
    codec::JsonPath path;
    absl::StatusOr<DeviceRequest> request = codec::DecodeDeviceRequest(message, dialect_, path);
    if (!request.ok()) {
      reaction.unreadable.emplace_back(request.status().message());
      return;
    }
    reaction.request_ids.push_back(request->request_id());
    if (policy_.answer == RequestPolicy::Answer::kNothing) return;
    reaction.replies.push_back({Reply::Kind::kAck, Answer(*request, Reply::Kind::kAck), absl::ZeroDuration()});
    if (policy_.answer == RequestPolicy::Answer::kAckOnly) return;
    reaction.replies.push_back({Reply::Kind::kResult, Answer(*request, Reply::Kind::kResult), policy_.result_delay});
  }
  // Any other type is nothing a device has to answer.
}

std::string SimulatedDevice::Answer(const DeviceRequest& request, Reply::Kind kind) const {
  codec::DeviceResponse response;
  response.request_id = request.request_id();
  // A decoded request always has a command: unknown ones arrive as RawCommand.
  const std::string command = codec::WireCommandOf(request.command()).value_or("");
  if (kind == Reply::Kind::kAck) {
    response.status = codec::DeviceResponse::Status::kAck;
  } else if (policy_.answer == RequestPolicy::Answer::kAckThenError) {
    response.status = codec::DeviceResponse::Status::kFailed;
    response.error = absl::StrCat(kHandledBy, ": failing ", command, " as --on-request=ack-fail asks");
  } else {
    response.status = codec::DeviceResponse::Status::kSucceeded;
    response.has_result = true;
    SetString(response.result, "command", command);
    SetString(response.result, "handled_by", std::string(kHandledBy));
  }
  return codec::EncodeDeviceResponse(response, dialect_);
}

std::string SimulatedDevice::NextEvent() {
  DeviceEvent event;
  event.set_device_id(identity_.device_id);
  event.set_account_id(identity_.account_id);
  event.set_service(std::string(codec::kDeviceService));
  switch (events_made_++ % 4) {
    case 0: {
      event.set_type("instances");
      const std::pair<absl::string_view, absl::string_view> apps[] = {{"wikijs", "latest"}, {"element", "1.11"}};
      for (size_t i = 0; i < std::size(apps); ++i) {
        auto& instance = *event.mutable_instances()->add_instances();
        instance.set_instance(instance_ids_[i]);
        instance.mutable_application()->set_appstore(std::string(kAppStore));
        instance.mutable_application()->set_name(std::string(apps[i].first));
        instance.mutable_application()->set_version(std::string(apps[i].second));
        instance.set_state(std::string(kRunning));
        instance.set_health(std::bernoulli_distribution(0.95)(random_) ? "healthy" : "unhealthy");
      }
      break;
    }
    case 1: {
      event.set_type("instance-state");
      auto& state = *event.mutable_instance_state();
      state.set_instance(instance_ids_[0]);
      state.set_state(std::string(kRunning));
      google::protobuf::Struct& s3 = *(*state.mutable_storage_apikeys()->mutable_fields())["s3"].mutable_struct_value();
      SetString(s3, "access_key", absl::StrFormat("SIM%016X", random_()));
      SetString(s3, "bucket", "hive-sim");
      std::string sealed(48, '\0');
      for (char& byte : sealed) byte = static_cast<char>(random_());
      state.set_encrypted_storage_apikeys(absl::Base64Escape(sealed));
      break;
    }
    case 2:
      event.set_type("device-version");
      event.mutable_device_version()->set_version(std::string(kFirmwareVersion));
      break;
    default: {
      event.set_type("device-state");
      auto& state = *event.mutable_device_state();
      const double free_share = std::uniform_real_distribution<double>(0.02, 0.6)(random_);
      const bool low = free_share < 0.1;
      state.set_state(low ? "disk-low" : "ok");
      state.set_message(low ? "Disk space below 10% on /data" : "Disk space fine on /data");
      state.set_disk_free_bytes(static_cast<uint64_t>(free_share * kDiskTotalBytes));
      state.set_disk_total_bytes(kDiskTotalBytes);
      break;
    }
  }
  return codec::EncodeDeviceEvent(event, dialect_);
}

}  // namespace hive::sim
