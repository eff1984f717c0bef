// Reading whole small files (configs, certificates) with errors that name the file.
#ifndef PORTSYNCD_CORE_FILE_UTIL_H_
#define PORTSYNCD_CORE_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace portsyncd {

// The file's contents, or NOT_FOUND "<path>: cannot read <what>: <strerror>".
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                                           absl::string_view what);

}  // namespace portsyncd

#endif  // PORTSYNCD_CORE_FILE_UTIL_H_
