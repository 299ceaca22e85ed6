#include "clients/loadgen/grpc_channels.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace hive::loadgen {

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ConnectChannels(const std::string& servers, int count,
                                                                            absl::Duration timeout) {
  const std::vector<std::string> addresses = absl::StrSplit(servers, ',', absl::SkipEmpty());
  if (addresses.empty()) return absl::InvalidArgumentError("--server: no address");
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const absl::Time deadline = absl::Now() + timeout;
  for (int i = 0; i < count; ++i) {
    const std::string& server = addresses[static_cast<size_t>(i) % addresses.size()];
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), arguments);
    if (!channel->WaitForConnected(absl::ToChronoTime(deadline))) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", server, " within ", absl::FormatDuration(timeout)));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

const char* StatusCodeName(int code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  return code >= 0 && code < static_cast<int>(std::size(kNames)) ? kNames[code] : "UNKNOWN";
}

}  // namespace hive::loadgen
