#include "core/db_config.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"

namespace portsyncd {
namespace {

using nlohmann::json;

absl::Status KeyError(absl::string_view path, absl::string_view key, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", key, ": ", problem));
}

// Fetches object[name] as type T, naming `key_path` in errors.
template <typename T>
absl::StatusOr<T> Required(const json& object, absl::string_view name, absl::string_view path,
                           absl::string_view key_path) {
  auto it = object.find(name);
  if (it == object.end()) return KeyError(path, key_path, "missing required key");
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return KeyError(path, key_path, "must be a string");
    return it->template get<std::string>();
  } else {
    if (!it->is_number_integer()) return KeyError(path, key_path, "must be an integer");
    // get<T>() would wrap silently: 4294967302 read as int is 6, a valid database id.
    const bool fits = it->is_number_unsigned()
                          ? it->template get<uint64_t>() <=
                                static_cast<uint64_t>(std::numeric_limits<T>::max())
                          : it->template get<int64_t>() >= std::numeric_limits<T>::min() &&
                                it->template get<int64_t>() <= std::numeric_limits<T>::max();
    if (!fits) return KeyError(path, key_path, absl::StrCat("out of range: ", it->dump()));
    return it->template get<T>();
  }
}

}  // namespace

std::string DbEndpoint::Describe() const {
  if (!unix_socket_path.empty()) {
    return absl::StrCat(db_name, " (unix:", unix_socket_path, " db ", id, ")");
  }
  return absl::StrCat(db_name, " (tcp:", hostname, ":", port, " db ", id, ")");
}

absl::StatusOr<DbConfig> DbConfig::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path, "the SONiC database config");
  if (!text.ok()) {
    return absl::NotFoundError(
        absl::StrCat(text.status().message(),
                     "; pass the right path with --db-config or db_config in the config file"));
  }
  return Parse(*text, path);
}

absl::StatusOr<DbConfig> DbConfig::Parse(absl::string_view json_text, absl::string_view path) {
  json root = json::parse(json_text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    // Parse again with exceptions only to get the parser's line and column.
    try {
      json ignored = json::parse(json_text);
      (void)ignored;
    } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
      return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON: ", e.what()));
    }
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  }
  if (!root.is_object()) return KeyError(path, "(top level)", "must be a JSON object");
  auto instances = root.find("INSTANCES");
  if (instances == root.end() || !instances->is_object()) {
    return KeyError(path, "INSTANCES", "missing required object");
  }
  auto databases = root.find("DATABASES");
  if (databases == root.end() || !databases->is_object()) {
    return KeyError(path, "DATABASES", "missing required object");
  }

  DbConfig config;
  config.path_ = std::string(path);
  for (absl::string_view db_name : kRequiredDatabases) {
    const std::string db_key = absl::StrCat("DATABASES.", db_name);
    auto db = databases->find(db_name);
    if (db == databases->end()) return KeyError(path, db_key, "missing required database");
    if (!db->is_object()) return KeyError(path, db_key, "must be an object");

    DbEndpoint endpoint;
    endpoint.db_name = std::string(db_name);
    ASSIGN_OR_RETURN(endpoint.id, Required<int>(*db, "id", path, absl::StrCat(db_key, ".id")));
    if (endpoint.id < 0 || endpoint.id > 15) {
      return KeyError(path, absl::StrCat(db_key, ".id"), "must be between 0 and 15");
    }
    ASSIGN_OR_RETURN(endpoint.separator, Required<std::string>(*db, "separator", path,
                                                               absl::StrCat(db_key, ".separator")));
    if (endpoint.separator.empty()) {
      return KeyError(path, absl::StrCat(db_key, ".separator"), "must not be empty");
    }
    ASSIGN_OR_RETURN(
        std::string instance_name,
        Required<std::string>(*db, "instance", path, absl::StrCat(db_key, ".instance")));

    const std::string instance_key = absl::StrCat("INSTANCES.", instance_name);
    auto instance = instances->find(instance_name);
    if (instance == instances->end()) {
      return KeyError(path, instance_key, absl::StrCat("missing (named by ", db_key, ".instance)"));
    }
    if (!instance->is_object()) return KeyError(path, instance_key, "must be an object");
    ASSIGN_OR_RETURN(endpoint.hostname,
                     Required<std::string>(*instance, "hostname", path,
                                           absl::StrCat(instance_key, ".hostname")));
    ASSIGN_OR_RETURN(endpoint.port,
                     Required<int>(*instance, "port", path, absl::StrCat(instance_key, ".port")));
    if (endpoint.port <= 0 || endpoint.port > 65535) {
      return KeyError(path, absl::StrCat(instance_key, ".port"), "must be between 1 and 65535");
    }
    if (auto socket = instance->find("unix_socket_path"); socket != instance->end()) {
      if (!socket->is_string()) {
        return KeyError(path, absl::StrCat(instance_key, ".unix_socket_path"), "must be a string");
      }
      endpoint.unix_socket_path = socket->get<std::string>();
    }
    config.databases_.emplace(endpoint.db_name, std::move(endpoint));
  }
  return config;
}

absl::StatusOr<DbEndpoint> DbConfig::Endpoint(absl::string_view db_name) const {
  auto it = databases_.find(db_name);
  if (it == databases_.end()) {
    return absl::NotFoundError(absl::StrCat(path_, ": DATABASES.", db_name, ": not loaded"));
  }
  return it->second;
}

}  // namespace portsyncd
