#include "server/config/daemon_config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "core/logging.h"
#include "core/status_macros.h"

namespace portsyncd {
namespace {

absl::Status ValueError(const std::string& path, const toml::value& value, absl::string_view key,
                        absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", value.location().line(), ": ", key, ": ", problem));
}

// Reads the tables of one TOML file, refusing keys nobody asked for.
class Reader {
 public:
  Reader(const std::string& path, const toml::value& root) : path_(path), root_(root) {}

  // `table` is "" for the top level.
  absl::Status String(absl::string_view table, absl::string_view key, std::string& out,
                      bool allow_empty = false) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return ValueError(path_, *v, Name(table, key), "must be a string");
    out = v->as_string().str;
    if (out.empty() && !allow_empty) {
      return ValueError(path_, *v, Name(table, key), "must not be empty");
    }
    return absl::OkStatus();
  }

  absl::Status Bool(absl::string_view table, absl::string_view key, bool& out) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return ValueError(path_, *v, Name(table, key), "must be true or false");
    out = v->as_boolean();
    return absl::OkStatus();
  }

  // An array of strings; unset when the key is absent.
  absl::Status StringList(absl::string_view table, absl::string_view key,
                          std::optional<std::vector<std::string>>& out) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_array() || !std::all_of(v->as_array().begin(), v->as_array().end(),
                                       [](const toml::value& item) { return item.is_string(); })) {
      return ValueError(path_, *v, Name(table, key),
                        "must be an array of strings, e.g. [\"eth*\"]");
    }
    out.emplace();
    for (const toml::value& item : v->as_array()) out->push_back(item.as_string().str);
    return absl::OkStatus();
  }

  // The value's line, for checks that involve several keys; 0 when the key is absent.
  const toml::value* Value(absl::string_view table, absl::string_view key) {
    return Find(table, key);
  }

  absl::Status Integer(absl::string_view table, absl::string_view key, int64_t min, int64_t max,
                       int64_t& out) {
    const toml::value* v = Find(table, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_integer()) return ValueError(path_, *v, Name(table, key), "must be an integer");
    const int64_t value = v->as_integer();
    if (value < min || value > max) {
      return ValueError(path_, *v, Name(table, key),
                        absl::StrCat(value, " is out of range [", min, ", ", max, "]"));
    }
    out = value;
    return absl::OkStatus();
  }

  absl::Status Milliseconds(absl::string_view table, absl::string_view key, int64_t min,
                            int64_t max, absl::Duration& out) {
    int64_t ms = absl::ToInt64Milliseconds(out);
    RETURN_IF_ERROR(Integer(table, key, min, max, ms));
    out = absl::Milliseconds(ms);
    return absl::OkStatus();
  }

  // Call after every key was read: refuses anything not read and tables that are not tables.
  absl::Status CheckNoUnknownKeys() {
    for (const auto& [key, value] : root_.as_table()) {
      if (value.is_table()) {
        if (!known_tables_.contains(key)) {
          return ValueError(
              path_, value, key,
              absl::StrCat("unknown table; known tables: ", absl::StrJoin(known_tables_, ", ")));
        }
        for (const auto& [inner, inner_value] : value.as_table()) {
          if (!known_.contains(Name(key, inner))) {
            return ValueError(path_, inner_value, Name(key, inner), "unknown key");
          }
        }
      } else if (!known_.contains(key)) {
        return ValueError(path_, value, key, "unknown key");
      }
    }
    return absl::OkStatus();
  }

 private:
  static std::string Name(absl::string_view table, absl::string_view key) {
    return table.empty() ? std::string(key) : absl::StrCat(table, ".", key);
  }

  const toml::value* Find(absl::string_view table, absl::string_view key) {
    known_.insert(Name(table, key));
    const toml::value* t = &root_;
    if (!table.empty()) {
      known_tables_.insert(std::string(table));
      auto it = root_.as_table().find(std::string(table));
      if (it == root_.as_table().end()) return nullptr;
      if (!it->second.is_table()) return nullptr;  // reported by CheckNoUnknownKeys
      t = &it->second;
    }
    auto it = t->as_table().find(std::string(key));
    return it == t->as_table().end() ? nullptr : &it->second;
  }

  const std::string& path_;
  const toml::value& root_;
  std::set<std::string> known_;
  std::set<std::string> known_tables_;
};

// The offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629: no overlong
// forms, surrogates or code points above U+10FFFF), or npos when `text` is valid UTF-8.
size_t InvalidUtf8Offset(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t continuation;
    uint32_t code_point;
    uint32_t min;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      continuation = 1, code_point = lead & 0x1F, min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      continuation = 2, code_point = lead & 0x0F, min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      continuation = 3, code_point = lead & 0x07, min = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i <= continuation) return i;
    for (size_t k = 1; k <= continuation; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if ((byte & 0xC0) != 0x80) return i;
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < min || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += continuation + 1;
  }
  return absl::string_view::npos;
}

// toml11's syntax errors are several lines: "[error] toml::<function>: <problem>", then " -->
// file", then " <line> | <text>" and a "^--- <detail>" marker under the offending text. The API and
// the logs promise one line, `<file>:<line>: <key>: <problem>`: this folds them into it. The key is
// the text before '=' on the offending line, or the line itself (a table header, a stray word).
std::string OneLineSyntaxError(const std::string& path, absl::string_view what) {
  std::string problem, detail, key;
  size_t line = 0;
  for (absl::string_view text : absl::StrSplit(what, '\n')) {
    if (problem.empty() && absl::ConsumePrefix(&text, "[error] ")) {
      if (absl::StartsWith(text, "toml::")) {
        if (size_t colon = text.find(": "); colon != absl::string_view::npos) {
          text.remove_prefix(colon + 2);
        }
      }
      problem = std::string(absl::StripAsciiWhitespace(text));
      continue;
    }
    absl::string_view stripped = absl::StripLeadingAsciiWhitespace(text);
    if (size_t marker = stripped.find("^--- "); marker != absl::string_view::npos) {
      if (detail.empty()) detail = std::string(stripped.substr(marker + 5));
      continue;
    }
    // " 2 | max_streams = "
    const size_t bar = stripped.find(" | ");
    size_t number = 0;
    if (bar != absl::string_view::npos && absl::SimpleAtoi(stripped.substr(0, bar), &number)) {
      line = number;
      absl::string_view source = stripped.substr(bar + 3);
      if (size_t eq = source.find('='); eq != absl::string_view::npos)
        source = source.substr(0, eq);
      key = std::string(absl::StripAsciiWhitespace(source.substr(0, 60)));
    }
  }
  if (problem.empty()) problem = std::string(absl::StripAsciiWhitespace(what.substr(0, 200)));
  if (!detail.empty()) absl::StrAppend(&problem, " (", detail, ")");
  if (key.empty()) key = "(syntax)";
  return absl::StrCat(path, ":", line > 0 ? line : 1, ": ", key, ": invalid TOML: ", problem);
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseDaemonConfig(absl::string_view text, const std::string& path) {
  // TOML files are UTF-8. Checked before toml11 sees the text: toml11 3.7's report of an invalid
  // sequence inside a '...' string reads outside the text (found by tests/fuzz).
  if (const size_t bad = InvalidUtf8Offset(text); bad != absl::string_view::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", line, ": not valid UTF-8 (byte 0x",
                     absl::Hex(static_cast<unsigned char>(text[bad]), absl::kZeroPad2),
                     " at offset ", bad, "); a TOML file must be UTF-8"));
  }
  toml::value root;
  try {
    std::istringstream in{std::string(text)};
    root = toml::parse(in, path);
  } catch (const toml::exception& e) {
    return absl::InvalidArgumentError(OneLineSyntaxError(path, e.what()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(OneLineSyntaxError(path, e.what()));
  }
  DaemonConfig config;
  Reader reader(path, root);
  EngineOptions& engine = config.engine;

  RETURN_IF_ERROR(reader.String("", "db_config", engine.db_config_path));
  RETURN_IF_ERROR(reader.String("", "runtime_dir", engine.runtime_dir));
  RETURN_IF_ERROR(reader.String("", "log_level", config.log_level));
  if (!ParseLogLevel(config.log_level)) {
    const toml::value& v = toml::find(root, "log_level");
    return ValueError(
        path, v, "log_level",
        absl::StrCat("'", config.log_level,
                     "' is not one of EMERG ALERT CRIT ERROR WARN NOTICE INFO DEBUG"));
  }

  int64_t buffer = engine.netlink_receive_buffer_bytes;
  // 64 KiB: smaller makes overflow (and a full re-dump) likely on any burst. 1 GiB: sanity cap.
  RETURN_IF_ERROR(reader.Integer("netlink", "receive_buffer_bytes", 64 * 1024, 1 << 30, buffer));
  engine.netlink_receive_buffer_bytes = static_cast<int>(buffer);

  RETURN_IF_ERROR(reader.Milliseconds("redis", "timeout_ms", 10, 60'000, engine.redis_timeout));
  RETURN_IF_ERROR(
      reader.Milliseconds("redis", "reconnect_initial_ms", 1, 60'000, engine.reconnect_initial));
  RETURN_IF_ERROR(
      reader.Milliseconds("redis", "reconnect_max_ms", 1, 60'000, engine.reconnect_max));
  RETURN_IF_ERROR(
      reader.Milliseconds("redis", "pending_poll_ms", 10, 60'000, engine.pending_poll_interval));
  RETURN_IF_ERROR(
      reader.Milliseconds("redis", "audit_interval_ms", 100, 3'600'000, engine.audit_interval));
  RETURN_IF_ERROR(
      reader.Milliseconds("redis", "logger_poll_ms", 100, 60'000, engine.logger_poll_interval));
  RETURN_IF_ERROR(reader.Bool("redis", "keyspace_notifications", engine.keyspace_notifications));
  RETURN_IF_ERROR(reader.Milliseconds("redis", "audit_interval_notified_ms", 100, 3'600'000,
                                      engine.audit_interval_notified));
  if (engine.reconnect_initial > engine.reconnect_max) {
    // At least one of the two is in the file (the defaults are consistent); name that one.
    const toml::table& redis = toml::find(root, "redis").as_table();
    const bool has_initial = redis.count("reconnect_initial_ms") != 0;
    const std::string key = has_initial ? "reconnect_initial_ms" : "reconnect_max_ms";
    return ValueError(path, redis.at(key), absl::StrCat("redis.", key),
                      absl::StrCat("redis.reconnect_initial_ms (",
                                   absl::ToInt64Milliseconds(engine.reconnect_initial),
                                   ") must not exceed redis.reconnect_max_ms (",
                                   absl::ToInt64Milliseconds(engine.reconnect_max), ")"));
  }
  RETURN_IF_ERROR(reader.Bool("redis", "enabled", engine.redis_enabled));

  RETURN_IF_ERROR(reader.StringList("ports", "include", config.ports_include));
  RETURN_IF_ERROR(reader.StringList("ports", "exclude", config.ports_exclude));
  if (absl::Status s = ResolvePortSelection(config); !s.ok()) {
    // "include: ..." or "exclude: ...": the key it is about (or, for a default, the other one).
    const bool about_include = absl::StartsWith(s.message(), "include");
    const char* key = about_include ? "include" : "exclude";
    const toml::value* where = reader.Value("ports", key);
    if (where == nullptr) where = reader.Value("ports", about_include ? "exclude" : "include");
    if (where == nullptr)
      return absl::InvalidArgumentError(absl::StrCat(path, ": ports: ", s.message()));
    std::string problem(s.message());
    problem.erase(0, std::string(key).size() + 2);
    if (!config.ports_include && !about_include) {
      absl::StrAppend(&problem, " (the default include in this mode: ",
                      absl::StrJoin(config.engine.redis_enabled ? PortSelection::Sonic().include()
                                                                : PortSelection::Host().include(),
                                    " "),
                      ")");
    }
    return ValueError(path, *where, absl::StrCat("ports.", key), problem);
  }

  GrpcOptions& grpc = config.grpc;
  RETURN_IF_ERROR(reader.String("grpc", "unix_socket", grpc.unix_socket, /*allow_empty=*/true));
  RETURN_IF_ERROR(reader.Integer("grpc", "unix_socket_mode", 0, 0777, grpc.unix_socket_mode));
  RETURN_IF_ERROR(reader.String("grpc", "tcp_address", grpc.tcp_address, /*allow_empty=*/true));
  RETURN_IF_ERROR(reader.Bool("grpc", "tcp_insecure", grpc.tcp_insecure));
  RETURN_IF_ERROR(reader.String("grpc", "tls_cert_file", grpc.tls_cert_file, true));
  RETURN_IF_ERROR(reader.String("grpc", "tls_key_file", grpc.tls_key_file, true));
  RETURN_IF_ERROR(reader.String("grpc", "tls_client_ca_file", grpc.tls_client_ca_file, true));
  RETURN_IF_ERROR(reader.String("grpc", "reload_token_file", grpc.reload_token_file, true));
  RETURN_IF_ERROR(reader.Integer("grpc", "max_streams", 0, 100'000, grpc.max_streams));
  RETURN_IF_ERROR(
      reader.Integer("grpc", "stream_queue_limit", 16, 10'000'000, grpc.stream_queue_limit));
  RETURN_IF_ERROR(reader.Integer("grpc", "replay_buffer", 0, 10'000'000, grpc.replay_buffer));
  if (!grpc.tcp_address.empty()) {
    const toml::value* where = reader.Value("grpc", "tcp_address");
    absl::StatusOr<HostPort> address = ParseHostPort(grpc.tcp_address);
    if (!address.ok()) {
      return ValueError(path, *where, "grpc.tcp_address", "must be host:port");
    }
    const std::string& host = address->host;
    const bool loopback = host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
    if (grpc.tcp_insecure && !loopback) {
      return ValueError(path, *reader.Value("grpc", "tcp_insecure"), "grpc.tcp_insecure",
                        absl::StrCat("allowed only on a loopback address, not '", grpc.tcp_address,
                                     "'; configure tls_cert_file and "
                                     "tls_key_file instead"));
    }
    if (!grpc.tcp_insecure && (grpc.tls_cert_file.empty() || grpc.tls_key_file.empty())) {
      return ValueError(path, *where, "grpc.tcp_address",
                        "a TCP listener needs grpc.tls_cert_file and grpc.tls_key_file (or "
                        "grpc.tcp_insecure = true on a loopback address)");
    }
  }
  for (const char* key :
       {"tls_cert_file", "tls_key_file", "tls_client_ca_file", "reload_token_file"}) {
    const toml::value* v = reader.Value("grpc", key);
    if (v == nullptr || v->as_string().str.empty()) continue;
    if (access(v->as_string().str.c_str(), R_OK) != 0) {
      return ValueError(
          path, *v, absl::StrCat("grpc.", key),
          absl::StrCat("cannot read '", v->as_string().str, "': ", std::strerror(errno)));
    }
  }
  RETURN_IF_ERROR(reader.String("metrics", "listen", config.metrics_listen, /*allow_empty=*/true));
  if (!config.metrics_listen.empty()) {
    if (!ParseHostPort(config.metrics_listen).ok()) {
      return ValueError(path, *reader.Value("metrics", "listen"), "metrics.listen",
                        "must be host:port, e.g. 127.0.0.1:9108");
    }
  }
  RETURN_IF_ERROR(reader.CheckNoUnknownKeys());
  // FNV-1a of the text: a short, stable version for Reload's answer.
  uint64_t hash = 1469598103934665603ull;
  for (char ch : text) hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  config.version = absl::StrCat(absl::Hex(hash, absl::kZeroPad16));
  return config;
}

absl::Status ResolvePortSelection(DaemonConfig& config) {
  const PortSelection defaults =
      config.engine.redis_enabled ? PortSelection::Sonic() : PortSelection::Host();
  std::vector<std::string> include = config.ports_include.value_or(defaults.include());
  std::vector<std::string> exclude = config.ports_exclude.value_or(
      config.ports_include ? std::vector<std::string>{} : defaults.exclude());
  ASSIGN_OR_RETURN(config.engine.selection,
                   PortSelection::Create(std::move(include), std::move(exclude)));
  return absl::OkStatus();
}

std::map<std::string, std::string> FlattenConfig(const DaemonConfig& c) {
  auto ms = [](absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); };
  const EngineOptions& e = c.engine;
  const GrpcOptions& g = c.grpc;
  return {
      {"db_config", e.db_config_path},
      {"log_level", c.log_level},
      {"runtime_dir", e.runtime_dir},
      {"netlink.receive_buffer_bytes", absl::StrCat(e.netlink_receive_buffer_bytes)},
      {"ports.include", absl::StrJoin(e.selection.include(), " ")},
      {"ports.exclude", absl::StrJoin(e.selection.exclude(), " ")},
      {"redis.enabled", e.redis_enabled ? "true" : "false"},
      {"redis.timeout_ms", ms(e.redis_timeout)},
      {"redis.reconnect_initial_ms", ms(e.reconnect_initial)},
      {"redis.reconnect_max_ms", ms(e.reconnect_max)},
      {"redis.pending_poll_ms", ms(e.pending_poll_interval)},
      {"redis.audit_interval_ms", ms(e.audit_interval)},
      {"redis.logger_poll_ms", ms(e.logger_poll_interval)},
      {"redis.keyspace_notifications", e.keyspace_notifications ? "true" : "false"},
      {"redis.audit_interval_notified_ms", ms(e.audit_interval_notified)},
      {"grpc.unix_socket", g.unix_socket},
      {"grpc.unix_socket_mode", absl::StrCat(g.unix_socket_mode)},
      {"grpc.tcp_address", g.tcp_address},
      {"grpc.tcp_insecure", g.tcp_insecure ? "true" : "false"},
      {"grpc.tls_cert_file", g.tls_cert_file},
      {"grpc.tls_key_file", g.tls_key_file},
      {"grpc.tls_client_ca_file", g.tls_client_ca_file},
      {"grpc.reload_token_file", g.reload_token_file},
      {"grpc.max_streams", absl::StrCat(g.max_streams)},
      {"grpc.stream_queue_limit", absl::StrCat(g.stream_queue_limit)},
      {"grpc.replay_buffer", absl::StrCat(g.replay_buffer)},
      {"metrics.listen", c.metrics_listen},
  };
}

bool IsLiveKey(absl::string_view key) {
  return key == "log_level" || key == "grpc.max_streams" || key == "grpc.stream_queue_limit" ||
         key == "ports.include" || key == "ports.exclude";
}

absl::StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, "the config file"));
  return ParseDaemonConfig(text, path);
}

}  // namespace portsyncd
