#include "server/config/config_reloader.h"

#include <map>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/logging.h"

namespace portsyncd {

ConfigReloader::ConfigReloader(std::string path, bool loaded_from_file, DaemonConfig running,
                               std::function<void(DaemonConfig&)> apply_overrides, EventHub* hub,
                               const SystemdNotifier* notifier, ServerCounters* counters,
                               std::function<void(const PortSelection&)> apply_selection)
    : path_(std::move(path)),
      apply_overrides_(std::move(apply_overrides)),
      apply_selection_(std::move(apply_selection)),
      hub_(hub),
      notifier_(notifier),
      counters_(counters),
      running_(std::move(running)),
      from_file_(loaded_from_file) {}

std::string ConfigReloader::Description() const {
  absl::MutexLock lock(&mu_);
  if (!from_file_) return "built-in defaults (no config file)";
  return absl::StrCat(
      "loaded from ", path_, " (version ", running_.version, ")",
      waiting_for_restart_.empty()
          ? ""
          : absl::StrCat("; waiting for a restart: ", absl::StrJoin(waiting_for_restart_, " ")));
}

absl::StatusOr<ReloadResult> ConfigReloader::Reload() {
  absl::MutexLock lock(&mu_);
  const bool started = started_.load();
  if (started) notifier_->Notify("RELOADING=1");
  absl::Cleanup ready = [&] {
    if (started) notifier_->Notify("READY=1");
  };
  absl::StatusOr<DaemonConfig> loaded = LoadDaemonConfig(path_);
  if (!loaded.ok()) {
    counters_->reloads_failed.fetch_add(1);
    return absl::InvalidArgumentError(
        absl::StrCat(loaded.status().message(), "; the running configuration is unchanged"));
  }
  DaemonConfig next = *std::move(loaded);
  apply_overrides_(next);
  // redis.enabled takes effect at a restart: the live [ports] selection is resolved in the mode
  // the daemon runs in (a file switched to host mode must not widen a SONiC switch's set now).
  if (next.engine.redis_enabled != running_.engine.redis_enabled) {
    const bool next_redis = next.engine.redis_enabled;
    next.engine.redis_enabled = running_.engine.redis_enabled;
    if (absl::Status s = ResolvePortSelection(next); !s.ok()) {
      counters_->reloads_failed.fetch_add(1);
      return absl::InvalidArgumentError(absl::StrCat(
          path_, ": ports: ", s.message(), " (in the mode the daemon runs in until a restart)",
          "; the running configuration is unchanged"));
    }
    next.engine.redis_enabled = next_redis;
  }

  ReloadResult result;
  result.config_version = next.version;
  const std::map<std::string, std::string> before = FlattenConfig(running_);
  for (const auto& [key, value] : FlattenConfig(next)) {
    if (before.at(key) == value) continue;
    result.changed_keys.push_back(key);
    if (!IsLiveKey(key)) result.restart_required_keys.push_back(key);
  }
  if (running_.log_level != next.log_level) {
    // Only on a change: otherwise a level set since through CONFIG_DB LOGGER stays.
    SetLogLevel(*ParseLogLevel(next.log_level));
    running_.log_level = next.log_level;
  }
  running_.grpc.max_streams = next.grpc.max_streams;
  running_.grpc.stream_queue_limit = next.grpc.stream_queue_limit;
  hub_->set_limits(static_cast<size_t>(next.grpc.max_streams),
                   static_cast<size_t>(next.grpc.stream_queue_limit));
  if (!(next.engine.selection == running_.engine.selection)) {
    if (apply_selection_) apply_selection_(next.engine.selection);
    running_.engine.selection = next.engine.selection;
  }
  running_.ports_include = next.ports_include;
  running_.ports_exclude = next.ports_exclude;
  running_.version = next.version;
  from_file_ = true;
  waiting_for_restart_ = result.restart_required_keys;
  counters_->reloads_ok.fetch_add(1);
  LOG_NOTICE("reload: config ", path_, " version ", result.config_version, ", changed: ",
             result.changed_keys.empty() ? "nothing" : absl::StrJoin(result.changed_keys, " "),
             result.restart_required_keys.empty()
                 ? ""
                 : absl::StrCat("; needing a restart: ",
                                absl::StrJoin(result.restart_required_keys, " ")));
  return result;
}

}  // namespace portsyncd
