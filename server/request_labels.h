// server/request_labels.h
// How a request's command kind and status are named in /metrics labels and
// log lines: the Command oneof's field name ("scheduler_action", "raw";
// "none" when unset) and the RequestStatus name without its prefix, in lower
// case ("acked", "queued").
#pragma once

#include <string>

#include "hive/bridge/v1/commands.pb.h"

namespace hive::server {

std::string CommandKindName(hive::bridge::v1::Command::KindCase kind);

std::string RequestStatusName(hive::bridge::v1::RequestStatus status);

}  // namespace hive::server
