// bridge/status_macros.h
// Early returns for absl::Status and absl::StatusOr, where a function runs a
// sequence of steps any of which may fail. Abseil (Debian's 2022 release)
// does not export its own.
//
//   HIVE_RETURN_IF_ERROR(connection.OpenChannel(1));
//   HIVE_ASSIGN_OR_RETURN(config.port, ParsePort(text));   // assigns to an existing lvalue
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HIVE_RETURN_IF_ERROR(expr)                                \
  do {                                                            \
    if (absl::Status hive_status_ = (expr); !hive_status_.ok()) { \
      return hive_status_;                                        \
    }                                                             \
  } while (false)

// lhs is not parenthesised: it may be a declaration (`auto x`).
// NOLINTBEGIN(bugprone-macro-parentheses)
#define HIVE_ASSIGN_OR_RETURN(lhs, expr)                \
  do {                                                  \
    auto hive_value_ = (expr);                          \
    if (!hive_value_.ok()) return hive_value_.status(); \
    lhs = *std::move(hive_value_);                      \
  } while (false)
// NOLINTEND(bugprone-macro-parentheses)
