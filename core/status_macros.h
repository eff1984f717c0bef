// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr.
// Abseil 20220623 (Debian 12) ships neither macro.
#ifndef PORTSYNCD_CORE_STATUS_MACROS_H_
#define PORTSYNCD_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PORTSYNCD_CONCAT_INNER_(a, b) a##b
#define PORTSYNCD_CONCAT_(a, b) PORTSYNCD_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _portsyncd_status = (expr); \
    if (!_portsyncd_status.ok()) {             \
      return _portsyncd_status;                \
    }                                          \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); returns its status if not
// OK, else moves the value into `lhs` (which may be a declaration, e.g. `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  PORTSYNCD_ASSIGN_OR_RETURN_IMPL_(PORTSYNCD_CONCAT_(_portsyncd_statusor_, __LINE__), lhs, expr)
#define PORTSYNCD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                     \
  if (!statusor.ok()) {                                       \
    return std::move(statusor).status();                      \
  }                                                           \
  lhs = std::move(statusor).value()

#endif  // PORTSYNCD_CORE_STATUS_MACROS_H_
