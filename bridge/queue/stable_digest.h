// bridge/queue/stable_digest.h
// What a queued request asks of its device (device id, command, state) as a
// digest that is the same in every process: the request queue keeps it on
// disk to tell a retry from a different request under the same id after a
// restart. (DigestOf, the correlator's, is an absl::Hash: seeded per process,
// so it cannot be stored.) FNV-1a, 64 bits, over the deterministic
// serialization: collisions only matter between requests a caller sends under
// one request id, and no one gains by forging one.
#pragma once

#include <cstdint>
#include <string>

#include "hive/bridge/v1/device_bridge.pb.h"

namespace hive {

uint64_t StableDigestOf(const std::string& device_id, const hive::bridge::v1::SendDeviceRequestRequest& request);

}  // namespace hive
