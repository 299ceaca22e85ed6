#include "server/sse_stream.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace hive::server {

std::string SseEvent(absl::string_view id, absl::string_view event, absl::string_view data) {
  std::string frame;
  if (!id.empty()) absl::StrAppend(&frame, "id: ", id, "\n");
  if (!event.empty()) absl::StrAppend(&frame, "event: ", event, "\n");
  // A newline inside the data would end the field; each line is a field of
  // its own, which EventSource joins back with newlines.
  for (absl::string_view line : absl::StrSplit(data, '\n')) absl::StrAppend(&frame, "data: ", line, "\n");
  frame.push_back('\n');
  return frame;
}

}  // namespace hive::server
