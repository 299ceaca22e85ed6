#include "bridge/codec/json_path.h"

#include "absl/strings/str_cat.h"

namespace hive::codec {

std::string JsonPath::ToString() const {
  if (segments_.empty()) return "(root)";
  std::string out;
  for (const Segment& segment : segments_) {
    if (segment.is_index) {
      absl::StrAppend(&out, "[", segment.index, "]");
    } else {
      if (!out.empty()) out.push_back('.');
      out.append(segment.key.data(), segment.key.size());
    }
  }
  return out;
}

std::string JsonPath::PointerFrom(size_t depth) const {
  std::string out;
  for (size_t i = depth; i < segments_.size(); ++i) {
    out.push_back('/');
    const Segment& segment = segments_[i];
    if (segment.is_index) {
      absl::StrAppend(&out, segment.index);
      continue;
    }
    for (char c : segment.key) {  // RFC 6901 escaping
      if (c == '~') {
        out.append("~0");
      } else if (c == '/') {
        out.append("~1");
      } else {
        out.push_back(c);
      }
    }
  }
  return out;
}

absl::Status JsonPath::Error(absl::string_view problem) const {
  return absl::InvalidArgumentError(absl::StrCat(ToString(), ": ", problem));
}

}  // namespace hive::codec
