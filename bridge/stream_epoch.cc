#include "bridge/stream_epoch.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "bridge/uuid.h"

namespace hive {
namespace {
constexpr absl::string_view kClusterPrefix = "amqp-stream:";
}  // namespace

std::string NewLocalEpoch() { return NewUuid(); }

std::string ClusterEpoch(absl::string_view vhost, absl::string_view stream) {
  return absl::StrCat(kClusterPrefix, vhost, "/", stream);
}

bool IsWellFormedEpoch(absl::string_view text) {
  if (IsUuid(text)) return true;
  if (!absl::ConsumePrefix(&text, kClusterPrefix)) return false;
  // VHOST/STREAM: the stream's name follows the last slash (a vhost may
  // itself be "/"), and neither part is empty.
  const size_t slash = text.rfind('/');
  return slash != absl::string_view::npos && slash > 0 && slash + 1 < text.size();
}

}  // namespace hive
