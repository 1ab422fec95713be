#include "app/alerts.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "sql/value.h"

namespace sluice::app {

using Json = nlohmann::ordered_json;

Result<AlertDefinition> DefineAlert(std::string name, const sql::ViewPlan& view, std::string metric,
                                    stream::AnomalyOptions options) {
  AlertDefinition def;
  def.name = std::move(name);
  def.view = view.name;
  if (view.window.kind == sql::WindowKind::kNone)
    return Status::InvalidArgument(fmt::format(
        "view '{}' has no window: an alert judges closed windows (TUMBLE or HOP)", view.name));
  if (view.window.kind == sql::WindowKind::kSession)
    return Status::InvalidArgument(fmt::format(
        "view '{}' has SESSION windows: an alert compares windows of one size that follow each "
        "other (TUMBLE or HOP)",
        view.name));
  if (view.emit != sql::EmitMode::kOnClose)
    return Status::InvalidArgument(fmt::format(
        "view '{}' must be WITH (emit = 'on_close'): an alert judges each window once, when it "
        "closes",
        view.name));
  bool has_metric = false;
  for (const sql::OutputColumn& c : view.columns) {
    const bool window_column =
        c.expr.kind == sql::BoundExpr::Kind::kColumn &&
        (c.expr.column == view.window_start_column() || c.expr.column == view.window_end_column());
    const bool is_key = std::find(view.key_columns.begin(), view.key_columns.end(), c.name) !=
                        view.key_columns.end();
    if (window_column && is_key && def.window_column.empty()) {
      def.window_column = c.name;
      def.window_column_is_end = c.expr.column == view.window_end_column();
    } else if (is_key) {
      def.key_columns.push_back(c.name);
    }
    if (c.name == metric) {
      if (!sql::IsNumeric(c.type) && c.type != sql::Type::kAny)
        return Status::InvalidArgument(fmt::format("metric '{}' of view '{}' is {}, not a number",
                                                   metric, view.name, sql::TypeName(c.type)));
      has_metric = true;
    }
  }
  if (!has_metric) {
    std::string list;
    for (const sql::OutputColumn& c : view.columns) list += (list.empty() ? "" : ", ") + c.name;
    return Status::InvalidArgument(
        fmt::format("view '{}' has no column '{}' (its columns: {})", view.name, metric, list));
  }
  def.metric = std::move(metric);
  def.window_size_micros = view.window.size_micros;
  options.window_micros = view.window.slide_micros;
  def.options = options;
  return def;
}

AlertRunner::AlertRunner(AlertDefinition definition, std::shared_ptr<store::View> view,
                         stream::CheckpointStore& checkpoints, std::string checkpoint_id,
                         Append append, std::set<std::string> already_appended)
    : definition_(std::move(definition)),
      view_(std::move(view)),
      checkpoints_(checkpoints),
      checkpoint_id_(std::move(checkpoint_id)),
      append_(std::move(append)),
      appended_(std::move(already_appended)) {}

AlertRunner::~AlertRunner() {
  Stop();
}

Status AlertRunner::Start() {
  SLUICE_ASSIGN_OR_RETURN(stream::CheckpointData saved, checkpoints_.Load(checkpoint_id_));
  if (saved.meta.empty()) {
    detector_ = std::make_unique<stream::AnomalyDetector>(definition_.options);
    learning_ = true;
  } else {
    SLUICE_ASSIGN_OR_RETURN(stream::AnomalyDetector restored,
                            stream::AnomalyDetector::Restore(definition_.options, saved.meta));
    detector_ = std::make_unique<stream::AnomalyDetector>(std::move(restored));
  }
  subscription_ = view_->Subscribe(
      [this](uint64_t, const std::shared_ptr<const std::string>& delta) {
        std::lock_guard lock(mu_);
        queue_.push_back(delta);
        cv_.notify_one();
      },
      [this](uint64_t, std::string snapshot) {
        std::lock_guard lock(mu_);
        queue_.push_back(std::make_shared<const std::string>(std::move(snapshot)));
        cv_.notify_one();
      });
  subscribed_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void AlertRunner::Stop() {
  if (subscribed_) {
    view_->Unsubscribe(subscription_);
    subscribed_ = false;
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t AlertRunner::alerts_raised() const {
  std::lock_guard lock(mu_);
  return raised_;
}

void AlertRunner::Run() {
  bool first = true;
  for (;;) {
    std::shared_ptr<const std::string> document;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      document = std::move(queue_.front());
      queue_.pop_front();
    }
    ProcessRows(*document, first);
    first = false;
  }
}

namespace {

std::string Rfc3339(int64_t micros) {
  std::string quoted;
  sql::AppendJson(quoted, sql::Value::Timestamp(micros));
  return quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : quoted;
}

}  // namespace

void AlertRunner::ProcessRows(const std::string& text, bool from_snapshot) {
  Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.contains("rows")) {
    spdlog::error("alert {}: a message of view {} is not a snapshot or delta", definition_.name,
                  definition_.view);
    return;
  }
  // The closed windows in this message, in order, with each key's value.
  struct Window {
    std::vector<std::pair<std::string, double>> values;
    std::map<std::string, Json> keys;  // key text -> the key columns
  };
  std::map<int64_t, Window> windows;
  for (const Json& row : document["rows"]) {
    const Json& bound =
        row.contains(definition_.window_column) ? row[definition_.window_column] : Json();
    if (!bound.is_string()) continue;
    Result<int64_t> t = sql::ParseTimestamp(bound.get<std::string>());
    if (!t.ok()) continue;
    const int64_t start =
        definition_.window_column_is_end ? *t - definition_.window_size_micros : *t;
    if (start <= detector_->last_window()) continue;  // judged before a restart
    Json key_columns = Json::object();
    Json key_values = Json::array();
    for (const std::string& k : definition_.key_columns) {
      const Json v = row.contains(k) ? row[k] : Json();
      key_columns[k] = v;
      key_values.push_back(v);
    }
    const std::string key = key_values.dump();
    const Json& metric = row.contains(definition_.metric) ? row[definition_.metric] : Json();
    const double value = metric.is_number() ? metric.get<double>() : 0;
    Window& w = windows[start];
    w.values.emplace_back(key, value);
    w.keys.emplace(key, std::move(key_columns));
  }
  if (windows.empty()) return;

  std::string events;
  uint64_t raised = 0;
  for (const auto& [start, window] : windows) {
    std::vector<stream::AnomalyAlert> alerts = detector_->CloseWindow(start, window.values);
    if (learning_ && from_snapshot) continue;  // a new alert learns from the past silently
    for (const stream::AnomalyAlert& a : alerts) {
      const Json& key_columns = window.keys.at(a.key);
      std::string key_text;
      for (const auto& [k, v] : key_columns.items())
        key_text +=
            (key_text.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
      const std::string id =
          fmt::format("{}/{}/{}", definition_.name, key_text, Rfc3339(a.window_start));
      if (!appended_.insert(id).second) continue;  // appended before a restart
      Json event = Json::object();
      event["event_id"] = id;
      event["occurred_at"] = Rfc3339(a.window_start + definition_.window_size_micros);
      event["alert"] = definition_.name;
      event["view"] = definition_.view;
      event["metric"] = definition_.metric;
      event["key"] = key_columns;
      for (const auto& [k, v] : key_columns.items())
        if (!event.contains(k)) event[k] = v;
      event["window_start"] = Rfc3339(a.window_start);
      event["window_end"] = Rfc3339(a.window_start + definition_.window_size_micros);
      event["value"] = a.value;
      event["baseline"] = a.mean;
      event["stddev"] = a.stddev;
      event["threshold"] = a.threshold;
      event["history"] = a.history;
      events += event.dump();
      events += '\n';
      ++raised;
    }
  }
  learning_ = false;
  // Alerts first, then the state: a crash in between re-judges the windows after a restart,
  // and the ids already in the alerts stream keep the alerts from being appended twice.
  if (!events.empty()) {
    if (Status st = append_(events); !st.ok()) {
      // Not committing the state: after a restart these windows are judged again.
      spdlog::error("alert {}: appending {} alert(s) to the alerts stream failed: {}",
                    definition_.name, raised, st.ToString());
      return;
    }
  }
  if (Status st = checkpoints_.Commit(checkpoint_id_, {}, {}, 0, detector_->Serialize()); !st.ok())
    spdlog::error("alert {}: checkpoint failed: {}", definition_.name, st.ToString());
  std::lock_guard lock(mu_);
  raised_ += raised;
}

}  // namespace sluice::app
