// bridge/codec/json_path.h
// Where in a JSON document the codec is: rendered as "payload.links.default"
// or "instances[2].state" in error messages, and as a JSON Pointer (RFC 6901)
// relative to an enclosing object for `exact_numbers`. Keys are borrowed from
// the document being read, so a JsonPath must not outlive it.
//
//   JsonPath path;
//   auto in_payload = path.Key("payload");   // popped when it goes out of scope
//   return path.Error("expected object, got number 3");
#pragma once

#include <cstddef>
#include <string>
#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace hive::codec {

class JsonPath {
 public:
  // Pops the segment it pushed when destroyed.
  class Scope {
   public:
    explicit Scope(JsonPath& path) : path_(&path) {}
    Scope(Scope&& other) noexcept : path_(other.path_) { other.path_ = nullptr; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope() {
      if (path_ != nullptr) path_->segments_.pop_back();
    }

   private:
    JsonPath* path_;
  };

  [[nodiscard]] Scope Key(absl::string_view key) {
    segments_.push_back({key, 0, false});
    return Scope(*this);
  }
  [[nodiscard]] Scope Index(size_t index) {
    segments_.push_back({{}, index, true});
    return Scope(*this);
  }

  size_t depth() const { return segments_.size(); }

  // "payload.links.default.domain"; "(root)" at the top.
  std::string ToString() const;

  // The JSON Pointer of the current position relative to the object at
  // `depth` (a value returned by depth() earlier), e.g. "/links/default".
  std::string PointerFrom(size_t depth) const;

  // INVALID_ARGUMENT "<path>: <problem>".
  absl::Status Error(absl::string_view problem) const;

 private:
  struct Segment {
    absl::string_view key;
    size_t index;
    bool is_index;
  };
  // Inline up to the depth of any ordinary message, so that reading one
  // allocates nothing for its path.
  absl::InlinedVector<Segment, 8> segments_;
};

}  // namespace hive::codec
