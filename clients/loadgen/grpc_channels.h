// clients/loadgen/grpc_channels.h
// The loadgen's gRPC connections: `count` channels dealt in turn to the
// servers of a comma-separated list (the replicas of a cluster, or just
// one), each with its own subchannel pool so that each is its own TCP
// connection (gRPC would otherwise share one between channels with equal
// arguments), all connected before a run starts so that connection set-up
// is not measured.
//
//   absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
//       ConnectChannels("10.0.0.1:9090,10.0.0.2:9090", 4, absl::Seconds(5));
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"

namespace hive::loadgen {

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(const std::string& servers, int count,
                                                                            absl::Duration timeout);

// "DEADLINE_EXCEEDED" and the like, for results keyed by status code.
const char* StatusCodeName(int code);

}  // namespace hive::loadgen
