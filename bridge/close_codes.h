// bridge/close_codes.h
// The WebSocket close codes hivebridge sends, in one place (docs/protocol.md
// lists them for firmware authors).
#pragma once

namespace hive::close_code {

inline constexpr int kNormal = 1000;
inline constexpr int kGoingAway = 1001;        // the bridge is shutting down
inline constexpr int kUnsupportedData = 1003;  // binary frame
inline constexpr int kPolicyViolation = 1008;  // too many invalid frames in a row
inline constexpr int kMessageTooBig = 1009;    // frame over --max-message-bytes
inline constexpr int kTryAgainLater = 1013;    // the bridge holds --max-connections already
inline constexpr int kUnauthorized = 4401;     // no, bad or late token
inline constexpr int kAccountFull = 4403;      // the account holds --max-connections-per-account already
inline constexpr int kPongTimeout = 4408;      // no pong within --pong-timeout
inline constexpr int kReplaced = 4409;         // a newer connection of the same device
inline constexpr int kIdle = 4410;             // no frame and no pong within --idle-timeout
inline constexpr int kNotReading = 4413;       // more than --device-send-buffer bytes waiting to be sent
inline constexpr int kRateLimited = 4429;      // kept sending events over --device-event-rate

}  // namespace hive::close_code
