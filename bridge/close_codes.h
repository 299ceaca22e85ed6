// bridge/close_codes.h
// The WebSocket close codes hivebridge sends, in one place (docs/protocol.md
// §8 lists them for firmware authors), and who closed a connection first.
#pragma once

#include "absl/strings/string_view.h"

namespace hive {
namespace close_code {

inline constexpr int kNormal = 1000;
inline constexpr int kGoingAway = 1001;        // the bridge is shutting down
inline constexpr int kUnsupportedData = 1003;  // binary frame
inline constexpr int kNoStatus = 1005;         // the device's close frame carried no code (never sent)
inline constexpr int kAbnormal = 1006;         // no close frame at all: the connection dropped (never sent)
inline constexpr int kInvalidPayload = 1007;   // text frame that is not UTF-8 (sent by websocketpp)
inline constexpr int kPolicyViolation = 1008;  // too many invalid frames in a row
inline constexpr int kMessageTooBig = 1009;    // frame over --max-message-bytes (sent by websocketpp)
inline constexpr int kTryAgainLater = 1013;    // the bridge holds --max-connections already
inline constexpr int kUnauthorized = 4401;     // no, bad or late token; token expired; refresh failed
inline constexpr int kAccountFull = 4403;      // the account holds --max-connections-per-account already
inline constexpr int kPongTimeout = 4408;      // no pong within --pong-timeout
inline constexpr int kReplaced = 4409;         // a newer connection of the same device
inline constexpr int kIdle = 4410;             // no frame and no pong within --idle-timeout
inline constexpr int kNotReading = 4413;       // more than --device-send-buffer bytes waiting to be sent
inline constexpr int kRateLimited = 4429;      // kept sending events over --device-event-rate

}  // namespace close_code

// Who started the closing handshake of a device's connection, so that the
// code and reason reported for it are the ones of the side that closed:
// the bridge's when it closed first (a device's answer echoes or differs, it
// does not matter), the device's when it did, and 1006 when neither sent a
// close frame before the connection dropped.
enum class ClosedBy { kBridge, kDevice, kNeither };

inline absl::string_view ClosedByName(ClosedBy by) {
  switch (by) {
    case ClosedBy::kBridge:
      return "bridge";
    case ClosedBy::kDevice:
      return "device";
    case ClosedBy::kNeither:
      break;
  }
  return "neither";
}

}  // namespace hive
