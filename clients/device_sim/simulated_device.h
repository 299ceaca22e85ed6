// clients/device_sim/simulated_device.h
// One simulated device's side of the protocol (docs/protocol.md), without
// sockets: what it makes of a frame from the bridge and what it sends back,
// and the events it reports. SimulatorClient carries the frames; tests call
// this directly.
//
//   SimulatedDevice device(entry, Dialect::kStandard, policy, seed);
//   SimulatedDevice::Reaction reaction = device.OnFrame(frame);
//   for (const auto& reply : reaction.replies) send(reply.frame) after reply.delay;
//   send(device.NextEvent());   // instances, instance-state, device-version, device-state, ...
//
// Not thread-safe: one connection's thread owns it.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bridge/codec/dialect.h"
#include "clients/device_sim/device_roster.h"
#include "clients/device_sim/request_policy.h"
#include "hive/bridge/v1/commands.pb.h"
#include "rapidjson/document.h"

namespace hive::sim {

inline constexpr absl::string_view kHandledBy = "hive-device-sim";

class SimulatedDevice {
 public:
  // A frame for the bridge, to send at once or after `delay`.
  struct Reply {
    enum class Kind { kAck, kResult };
    Kind kind;
    std::string frame;
    absl::Duration delay;
  };

  // What one frame from the bridge amounted to. A batch frame may hold
  // several messages, so each part counts them.
  struct Reaction {
    bool authenticated = false;              // the bridge's `authenticated` reply arrived
    std::vector<std::string> request_ids;    // of the device-requests received, in order
    std::vector<Reply> replies;              // in sending order
    std::vector<std::string> bridge_errors;  // the bridge's `error` replies
    std::vector<std::string> unreadable;     // why parts of the frame made no sense
  };

  // `seed` picks the device's app instances and the numbers it reports.
  SimulatedDevice(RosterEntry identity, codec::Dialect dialect, RequestPolicy policy, uint64_t seed);

  const RosterEntry& identity() const { return identity_; }

  // "Bearer TOKEN": the Authorization header's value, and with --auth
  // message the first text frame (Hivekit's auth message).
  static std::string BearerCredential(absl::string_view token);

  Reaction OnFrame(absl::string_view frame) const;

  // The next event in the rotation instances → instance-state →
  // device-version → device-state, encoded in the device's dialect.
  std::string NextEvent();

 private:
  // Adds one message of a frame (an object, or a batch member) to `reaction`.
  void React(const rapidjson::Value& message, Reaction& reaction) const;
  std::string Answer(const hive::bridge::v1::DeviceRequest& request, Reply::Kind kind) const;

  RosterEntry identity_;
  codec::Dialect dialect_;
  RequestPolicy policy_;
  std::string instance_ids_[2];
  std::mt19937_64 random_;
  uint64_t events_made_ = 0;
};

}  // namespace hive::sim
