// bridge/stream_epoch.h
// The epochs of the event stream: the name of one numbering of events, which
// with a sequence makes a resume point (docs/protocol.md, "Resuming"). A
// bridge on the in-process bus starts a new epoch, a random UUID, at every
// start; in cluster mode the epoch names the fleet's RabbitMQ stream, alike on
// every replica. A backend only ever echoes an epoch it received, so one of
// another form was never issued: SubscribeEvents refuses it as
// INVALID_ARGUMENT instead of answering with an epoch-changed gap, which
// would hide a typo or a placeholder such as "<epoch>".
//
//   std::string epoch = NewLocalEpoch();                 // "3f0c1e9a-..."
//   std::string fleet = ClusterEpoch("/");              // "amqp-stream:/hive.events.stream"
//   if (!IsWellFormedEpoch(text)) return absl::InvalidArgumentError(...);
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace hive {

// A fresh epoch for a bridge whose events are numbered in-process.
std::string NewLocalEpoch();

// The epoch of the fleet's event stream `stream` on the broker's virtual host
// `vhost`.
std::string ClusterEpoch(absl::string_view vhost, absl::string_view stream);

// True for every epoch NewLocalEpoch or ClusterEpoch can make.
bool IsWellFormedEpoch(absl::string_view text);

// What IsWellFormedEpoch accepts, for error messages.
inline constexpr absl::string_view kEpochForms = "a UUID, or amqp-stream:VHOST/STREAM";

}  // namespace hive
