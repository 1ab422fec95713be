#include "ingest/delivery.h"

#include <atomic>
#include <unordered_map>

#include <fmt/format.h>

#include "sql/event_fields.h"
#include "sql/expr.h"
#include "sql/parser.h"
#include "sql/planner.h"

namespace sluice::ingest {

struct DeliveryRule::Compiled {
  sql::FieldSet fields;
  sql::CompiledExpr expr;
  explicit Compiled(sql::CompiledExpr e) : expr(std::move(e)) {}
};

namespace {

std::atomic<uint64_t> next_rule_id{1};

// One thread's evaluator of one rule.
struct Evaluator {
  explicit Evaluator(const sql::FieldSet& fields) : extractor(fields) {}
  sql::EventFieldExtractor extractor;
  sql::EvalContext ctx;
};

thread_local std::unordered_map<uint64_t, std::unique_ptr<Evaluator>> evaluators;

}  // namespace

DeliveryRule::~DeliveryRule() = default;

Result<std::shared_ptr<const DeliveryRule>> DeliveryRule::Make(const sql::StreamSpec& spec) {
  const std::string& stream = spec.name;
  const std::string& exactly_once_when = spec.exactly_once_when;
  const bool exactly_once = spec.delivery == sql::Delivery::kExactlyOnce;
  std::shared_ptr<DeliveryRule> rule(new DeliveryRule());
  rule->exactly_once_ = exactly_once || !exactly_once_when.empty();
  rule->id_ = next_rule_id.fetch_add(1);
  if (exactly_once_when.empty()) return std::shared_ptr<const DeliveryRule>(std::move(rule));
  auto fail = [&](const Status& st) {
    return Status::InvalidArgument(
        fmt::format("stream '{}': exactly_once_when: {}", stream, st.message()));
  };
  Result<sql::Expr> parsed = sql::ParseExpression(exactly_once_when);
  if (!parsed.ok()) return fail(parsed.status());
  sql::Scope scope;
  sql::ExactlyOnceScope(spec, scope);
  Result<sql::BoundExpr> bound = sql::Bind(*parsed, scope);
  if (!bound.ok()) return fail(bound.status());
  sql::FieldSet fields;
  Result<sql::CompiledExpr> compiled = sql::Compile(*bound, fields);
  if (!compiled.ok()) return fail(compiled.status());
  rule->predicate_ = std::make_unique<Compiled>(std::move(*compiled));
  rule->predicate_->fields = std::move(fields);
  rule->predicate_sql_ = exactly_once_when;
  return std::shared_ptr<const DeliveryRule>(std::move(rule));
}

bool DeliveryRule::Matches(std::string_view record, int64_t event_time_micros) const {
  if (!exactly_once_) return false;
  if (predicate_ == nullptr) return true;
  std::unique_ptr<Evaluator>& e = evaluators[id_];
  if (!e) e = std::make_unique<Evaluator>(predicate_->fields);
  if (!e->extractor.Extract(record).ok()) return false;
  const sql::Value columns[] = {sql::Value::Timestamp(event_time_micros)};
  const sql::Value v = predicate_->expr.Evaluate(sql::Row{e->extractor.values(), columns}, e->ctx);
  const bool match = v.type == sql::Type::kBoolean && v.boolean;
  e->ctx.Reset();
  return match;
}

}  // namespace sluice::ingest
