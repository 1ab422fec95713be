#include "sql/planner.h"

#include <algorithm>
#include <cstdio>
#include <limits>

#include <fmt/format.h>

#include "base/time.h"
#include "sql/event_fields.h"
#include "sql/functions.h"
#include "sql/join_planner.h"
#include "sql/parser.h"

namespace sluice::sql {

std::string_view AggregateKindName(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kCountStar:
      return "count_star";
    case AggregateKind::kCount:
      return "count";
    case AggregateKind::kCountDistinct:
      return "count_distinct";
    case AggregateKind::kSum:
      return "sum";
    case AggregateKind::kMin:
      return "min";
    case AggregateKind::kMax:
      return "max";
    case AggregateKind::kAvg:
      return "avg";
    case AggregateKind::kApproxCountDistinct:
      return "approx_count_distinct";
    case AggregateKind::kApproxPercentile:
      return "approx_percentile";
    case AggregateKind::kFirstValue:
      return "first_value";
    case AggregateKind::kLastValue:
      return "last_value";
  }
  return "?";
}

namespace {

// ---- Option values ----------------------------------------------------------------------------

// A word: 'text' or a bare name (delivery = exactly_once).
Result<std::string> WordOption(const Option& option) {
  if (const auto* s = std::get_if<StringLiteral>(&option.value.node)) return s->value;
  if (const auto* c = std::get_if<ColumnRef>(&option.value.node); c && c->path.size() == 1)
    return c->path[0].name;
  return ErrorAt(option.value.location,
                 fmt::format("option '{}' takes a name or a string, e.g. {} = 'value'",
                             option.key.name, option.key.name));
}

Result<std::string> NonEmptyWordOption(const Option& option) {
  SLUICE_ASSIGN_OR_RETURN(std::string word, WordOption(option));
  if (word.empty())
    return ErrorAt(option.value.location,
                   fmt::format("option '{}' must not be empty", option.key.name));
  return word;
}

// A constant INTERVAL: INTERVAL '5' SECOND, or a string such as '5 seconds'.
Result<int64_t> ConstantInterval(const Expr& expr, std::string_view what) {
  Scope empty;
  Result<BoundExpr> bound = Bind(expr, empty);
  if (!bound.ok()) {
    // Names are not allowed here; say what is expected rather than "unknown column".
    if (std::holds_alternative<ColumnRef>(expr.node))
      return ErrorAt(expr.location, fmt::format("{} must be a constant INTERVAL, e.g. "
                                                "INTERVAL '1' MINUTE",
                                                what));
    return bound.status();
  }
  if (bound->kind == BoundExpr::Kind::kConstant && bound->string_literal) {
    Result<int64_t> micros = ParseInterval(bound->constant.str());
    if (!micros.ok()) {
      // Durations in years ('2 years') are fine for retention: 365 days each.
      Result<int64_t> duration = ParseDuration(bound->constant.str());
      if (!duration.ok())
        return ErrorAt(expr.location, fmt::format("{}: {}", what, micros.status().message()));
      return *duration;
    }
    return *micros;
  }
  if (bound->kind == BoundExpr::Kind::kConstant && bound->constant.type == Type::kInterval)
    return bound->constant.integer;
  return ErrorAt(expr.location,
                 fmt::format("{} must be a constant INTERVAL, e.g. INTERVAL '1' MINUTE, found {}",
                             what, TypeName(bound->type)));
}

Result<int64_t> PositiveInterval(const Expr& expr, std::string_view what) {
  SLUICE_ASSIGN_OR_RETURN(int64_t micros, ConstantInterval(expr, what));
  if (micros <= 0) return ErrorAt(expr.location, fmt::format("{} must be positive", what));
  return micros;
}

Result<int64_t> DurationOption(const Option& option, bool allow_zero) {
  const std::string what = fmt::format("option '{}'", option.key.name);
  SLUICE_ASSIGN_OR_RETURN(int64_t micros, ConstantInterval(option.value, what));
  if (micros < 0 || (micros == 0 && !allow_zero))
    return ErrorAt(option.value.location, fmt::format("{} must be positive", what));
  return micros;
}

Status UnknownOption(const Option& option, std::initializer_list<std::string_view> known) {
  std::string list;
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : known) {
    if (!list.empty()) list += ", ";
    list += k;
    const size_t d = EditDistance(option.key.name, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  std::string message = fmt::format("unknown option '{}'", option.key.name);
  if (!best.empty()) message += fmt::format(" (did you mean '{}'?)", best);
  return ErrorAt(option.key.location, fmt::format("{}; the options are: {}", message, list));
}

// ---- Names ------------------------------------------------------------------------------------

// The name a select item gets without AS: a column's (last) name, a function's name, a cast's
// operand's; otherwise the expression's canonical text (as DuckDB does).
std::string DefaultColumnName(const Expr& expr) {
  if (const auto* c = std::get_if<ColumnRef>(&expr.node)) return c->path.back().name;
  if (const auto* f = std::get_if<FieldAccess>(&expr.node)) return f->field.name;
  if (const auto* call = std::get_if<FunctionCall>(&expr.node)) return call->name;
  if (const auto* cast = std::get_if<Cast>(&expr.node)) return DefaultColumnName(*cast->operand);
  return ToSql(expr);
}

bool IsBooleanish(Type t) {
  return t == Type::kBoolean || t == Type::kAny || t == Type::kNull;
}

// "line L, column C: message" of an error found in the text of string literal `literal` (whose
// value is `text`), re-told at the statement's line and column: the literal's value starts
// after its opening quote, and each quote in the value was written twice.
Status RelocateIntoLiteral(const Status& error, SourceLocation literal, std::string_view text) {
  unsigned line = 0, column = 0;
  int consumed = 0;
  const std::string& message = error.message();
  if (std::sscanf(message.c_str(), "line %u, column %u: %n", &line, &column, &consumed) < 2 ||
      consumed == 0 || line == 0 || column == 0)
    return ErrorAt(literal, message);
  SourceLocation at = literal;
  at.column += 1;  // the opening quote
  unsigned l = 1, c = 1;
  for (size_t i = 0; i < text.size() && (l < line || c < column); ++i) {
    const char ch = text[i];
    if ((static_cast<unsigned char>(ch) & 0xC0) == 0x80) continue;  // inside a code point
    if (ch == '\n') {
      ++l;
      c = 1;
      ++at.line;
      at.column = 1;
      continue;
    }
    ++c;
    at.column += ch == '\'' ? 2 : 1;
  }
  return ErrorAt(at, std::string_view(message).substr(static_cast<size_t>(consumed)));
}

// exactly_once_when: a predicate over the stream's events and `event_time`, written as an
// expression or as a string holding one; returns its canonical SQL.
Result<std::string> ExactlyOncePredicate(const Option& option, const StreamSpec& spec) {
  Expr predicate = option.value;
  const auto* text = std::get_if<StringLiteral>(&option.value.node);
  auto located = [&](const Status& st) {
    return text ? RelocateIntoLiteral(st, option.value.location, text->value) : st;
  };
  if (text) {
    Result<Expr> parsed = ParseExpression(text->value);
    if (!parsed.ok()) return located(parsed.status());
    predicate = std::move(*parsed);
  }
  Scope scope;
  ExactlyOnceScope(spec, scope);
  Result<BoundExpr> bound = Bind(predicate, scope);
  if (!bound.ok()) return located(bound.status());
  if (!IsBooleanish(bound->type))
    return ErrorAt(option.value.location, fmt::format("exactly_once_when must be BOOLEAN, found {}",
                                                      TypeName(bound->type)));
  FieldSet fields;
  Result<CompiledExpr> compiled = Compile(*bound, fields);
  if (!compiled.ok()) return located(compiled.status());
  if (compiled->is_constant())
    return ErrorAt(option.value.location,
                   "exactly_once_when must read the event (a constant picks all events or none: "
                   "use delivery instead)");
  return ToSql(predicate);
}

// Whether `bound` reads column `column` anywhere.
bool ReadsColumn(const BoundExpr& bound, int column) {
  if (bound.kind == BoundExpr::Kind::kColumn && bound.column == column) return true;
  for (const BoundExpr& arg : bound.args)
    if (ReadsColumn(arg, column)) return true;
  return false;
}

// ---- The view planner -------------------------------------------------------------------------

class ViewPlanner {
 public:
  ViewPlanner(const CreateMaterializedView& create, const PlannerCatalog& catalog)
      : create_(create), query_(create.query), catalog_(catalog) {}

  Result<ViewPlan> Plan() {
    plan_.name = create_.name.name;
    SLUICE_RETURN_IF_ERROR(CheckShape());
    SLUICE_RETURN_IF_ERROR(PlanFrom());
    SLUICE_RETURN_IF_ERROR(PlanOptions());
    SLUICE_RETURN_IF_ERROR(PlanWhere());
    SLUICE_RETURN_IF_ERROR(PlanGroupBy());
    SLUICE_RETURN_IF_ERROR(PlanAggregates());
    SLUICE_RETURN_IF_ERROR(PlanOutput());
    return std::move(plan_);
  }

 private:
  // What a materialized view cannot (yet) contain.
  Status CheckShape() {
    const Query& q = query_;
    if (!q.from)
      return ErrorAt(
          create_.name.location,
          "a materialized view needs FROM: a stream, or TUMBLE(...) / HOP(...) over one");
    if (q.distinct)
      return ErrorAt(q.select_list.front().location,
                     "SELECT DISTINCT is not supported in a materialized view; use GROUP BY");
    if (!q.order_by.empty())
      return ErrorAt(q.order_by.front().expr.location,
                     "ORDER BY is not allowed in a materialized view (a view is a set of rows; "
                     "order when querying it)");
    if (q.limit || q.offset)
      return ErrorAt(create_.name.location,
                     "LIMIT and OFFSET are not allowed in a materialized view");
    for (const SelectItem& item : q.select_list) {
      if (std::holds_alternative<Star>(item.value))
        return ErrorAt(item.location,
                       "SELECT * is not supported in a materialized view; list the columns");
    }
    return Status::Ok();
  }

  Status PlanStreamRef(const NamedTable& table, SourceLocation location) {
    if (table.time_travel)
      return ErrorAt(table.time_travel->at.location,
                     "FOR SYSTEM_TIME / VERSION AS OF is not supported over a stream");
    if (table.name.size() != 1)
      return ErrorAt(location, fmt::format("unknown stream '{}'", table.name.back().name));
    const std::string& name = table.name[0].name;
    stream_ = catalog_.FindStream(name);
    if (stream_ == nullptr) {
      if (catalog_.IsView(name))
        return ErrorAt(location, fmt::format("'{}' is a materialized view; views over views are "
                                             "not supported yet: read the stream instead",
                                             name));
      std::string message = fmt::format("unknown stream '{}'", name);
      std::string_view best;
      size_t best_distance = std::max<size_t>(1, name.size() / 3) + 1;
      const std::vector<std::string> names = catalog_.StreamNames();
      for (const std::string& s : names) {
        const size_t d = EditDistance(name, s);
        if (d < best_distance) {
          best_distance = d;
          best = s;
        }
      }
      if (!best.empty()) message += fmt::format(" (did you mean '{}'?)", best);
      return ErrorAt(location, message);
    }
    plan_.stream = stream_->name;
    plan_.watermark_delay_micros = stream_->watermark_delay_micros;
    qualifiers_.push_back(stream_->name);
    return Status::Ok();
  }

  Status PlanFrom() {
    const TableRef& from = query_.from->first;
    if (const auto* named = std::get_if<NamedTable>(&from.node)) {
      SLUICE_RETURN_IF_ERROR(PlanStreamRef(*named, from.location));
      if (named->alias) qualifiers_.push_back(named->alias->name);
      BuildInputScope();
      return PlanJoin(named->alias ? named->alias->name : std::string());
    }
    if (std::holds_alternative<Subquery>(from.node))
      return ErrorAt(from.location, "subqueries in FROM are not supported in materialized views");
    const auto& window = std::get<WindowTable>(from.node);
    window_location_ = from.location;
    if (!std::holds_alternative<NamedTable>(window.input))
      return ErrorAt(from.location,
                     "a window function over a subquery is not supported yet; "
                     "window a stream");
    SLUICE_RETURN_IF_ERROR(PlanStreamRef(std::get<NamedTable>(window.input), from.location));
    if (window.alias) {
      qualifiers_.push_back(window.alias->name);
      window_alias_ = window.alias->name;
    }
    WindowSpec& spec = plan_.window;
    if (const auto* tumble = std::get_if<Tumble>(&window.window)) {
      spec.kind = WindowKind::kTumble;
      SLUICE_ASSIGN_OR_RETURN(spec.size_micros,
                              PositiveInterval(tumble->size, "the size of TUMBLE"));
      spec.slide_micros = spec.size_micros;
      if (tumble->offset) {
        SLUICE_ASSIGN_OR_RETURN(spec.offset_micros,
                                ConstantInterval(*tumble->offset, "the offset of TUMBLE"));
      }
      window_name_ = "TUMBLE";
    } else if (const auto* hop = std::get_if<Hop>(&window.window)) {
      spec.kind = WindowKind::kHop;
      SLUICE_ASSIGN_OR_RETURN(spec.slide_micros, PositiveInterval(hop->slide, "the slide of HOP"));
      SLUICE_ASSIGN_OR_RETURN(spec.size_micros, PositiveInterval(hop->size, "the size of HOP"));
      if (hop->offset) {
        SLUICE_ASSIGN_OR_RETURN(spec.offset_micros,
                                ConstantInterval(*hop->offset, "the offset of HOP"));
      }
      if (spec.size_micros / spec.slide_micros > kMaxWindowsPerEvent)
        return ErrorAt(hop->size.location,
                       fmt::format("HOP puts every event in size / slide = {} windows; at most {} "
                                   "are supported",
                                   spec.size_micros / spec.slide_micros, kMaxWindowsPerEvent));
      window_name_ = "HOP";
    } else {
      const auto& session = std::get<Session>(window.window);
      spec.kind = WindowKind::kSession;
      SLUICE_ASSIGN_OR_RETURN(spec.size_micros, PositiveInterval(session.gap, "the session gap"));
      spec.slide_micros = spec.size_micros;
      session_partition_ = session.partition_by;
      window_name_ = "SESSION";
    }
    // Keep offsets within one slide: the same windows, a canonical number.
    spec.offset_micros = spec.offset_micros % spec.slide_micros;
    if (spec.offset_micros < 0) spec.offset_micros += spec.slide_micros;
    BuildInputScope();
    SLUICE_RETURN_IF_ERROR(PlanTimeColumn(window.time_column));
    return PlanJoin(window_alias_);
  }

  // FROM ... JOIN ...: join_planner.h.
  Status PlanJoin(const std::string& alias) {
    if (query_.from->joins.empty()) return Status::Ok();
    if (plan_.window.kind == WindowKind::kSession)
      return ErrorAt(query_.from->joins.front().table.location,
                     "joins are not supported with SESSION windows yet; use TUMBLE or HOP");
    JoinContext context;
    context.query = &query_;
    context.catalog = &catalog_;
    context.stream = stream_;
    context.qualifiers = qualifiers_;
    context.alias = alias;
    context.windowed = plan_.window.kind != WindowKind::kNone;
    return sql::PlanJoin(context, plan_, input_);
  }

  void BuildInputScope() {
    input_.SetEventRelation(qualifiers_);
    input_.AddColumn("event_time", Type::kTimestamp, ViewPlan::kEventTimeColumn);
    if (plan_.window.kind != WindowKind::kNone) {
      // window_start and window_end, also qualified by the window's alias (w.window_start).
      input_.AddColumn("window_start", Type::kTimestamp, ViewPlan::kWindowStartColumn,
                       window_alias_);
      input_.AddColumn("window_end", Type::kTimestamp, ViewPlan::kWindowEndColumn, window_alias_);
    }
    // Declared columns give fields static types.
    if (!stream_->columns.empty()) {
      std::vector<StreamColumn> columns = stream_->columns;
      input_.SetFieldTypeHook([columns](const FieldPath& path) -> std::optional<Type> {
        if (path.size() != 1 || path[0].index >= 0) return std::nullopt;
        for (const StreamColumn& c : columns)
          if (c.name == path[0].name) return c.type;
        return std::nullopt;
      });
    }
  }

  // The time column: the stream's event-time field (or event_time) is the log record's event
  // time, parsed once at ingest; anything else is read from the event as a TIMESTAMP.
  Status PlanTimeColumn(const std::vector<Identifier>& path) {
    std::vector<Identifier> rest = path;
    if (rest.size() >= 2 &&
        std::find(qualifiers_.begin(), qualifiers_.end(), rest[0].name) != qualifiers_.end())
      rest.erase(rest.begin());
    if (rest.size() == 1 && (rest[0].name == stream_->event_time || rest[0].name == "event_time")) {
      return Status::Ok();
    }
    Expr ref{path[0].location, ColumnRef{path}};
    SLUICE_ASSIGN_OR_RETURN(BoundExpr time, Bind(ref, input_));
    if (ReadsColumn(time, ViewPlan::kWindowStartColumn) ||
        ReadsColumn(time, ViewPlan::kWindowEndColumn))
      return ErrorAt(path[0].location, "the time column cannot be the window's own column");
    SLUICE_RETURN_IF_ERROR(
        CoerceArgument(time, Type::kTimestamp, fmt::format("the time column of {}", window_name_)));
    plan_.time = std::move(time);
    return Status::Ok();
  }

  Status PlanOptions() {
    for (const Option& option : create_.options) {
      const std::string& key = option.key.name;
      if (key == "retention") {
        SLUICE_ASSIGN_OR_RETURN(int64_t micros, DurationOption(option, /*allow_zero=*/false));
        if (plan_.window.kind == WindowKind::kNone)
          return ErrorAt(
              option.key.location,
              "retention needs a windowed view (TUMBLE, HOP or SESSION): it drops windows that "
              "ended that long before the watermark");
        plan_.retention_micros = micros;
      } else if (key == "emit") {
        SLUICE_ASSIGN_OR_RETURN(std::string mode, WordOption(option));
        if (mode == "on_update") {
          plan_.emit = EmitMode::kOnUpdate;
        } else if (mode == "on_close") {
          if (plan_.window.kind == WindowKind::kNone)
            return ErrorAt(option.value.location,
                           "emit = 'on_close' needs a windowed view (TUMBLE, HOP or SESSION)");
          plan_.emit = EmitMode::kOnClose;
        } else {
          return ErrorAt(option.value.location,
                         fmt::format("emit must be 'on_update' or 'on_close', not '{}'", mode));
        }
      } else if (key == "allowed_lateness") {
        SLUICE_ASSIGN_OR_RETURN(plan_.allowed_lateness_micros,
                                DurationOption(option, /*allow_zero=*/true));
      } else if (key == "backfill") {
        SLUICE_ASSIGN_OR_RETURN(std::string from, WordOption(option));
        if (from == "lake") {
          if (!stream_->archive)
            return ErrorAt(option.value.location,
                           fmt::format("backfill = 'lake' reads the archive of stream {}, which "
                                       "has none: it needs archive = 'on'",
                                       stream_->name));
          if (plan_.interval_join)
            return ErrorAt(option.value.location,
                           "backfill = 'lake' is not supported for interval joins (they pair "
                           "events in log order)");
          plan_.backfill_from_lake = true;
        } else if (from != "log") {
          return ErrorAt(option.value.location,
                         fmt::format("backfill must be 'log' or 'lake', not '{}'", from));
        }
      } else if (key == "rollups") {
        rollups_option_ = &option;
      } else if (key == "lake") {
        SLUICE_ASSIGN_OR_RETURN(std::string lake, WordOption(option));
        if (lake != "on" && lake != "off")
          return ErrorAt(option.value.location,
                         fmt::format("lake must be 'on' or 'off', not '{}'", lake));
        plan_.lake_table = lake == "on";
      } else {
        return UnknownOption(
            option, {"retention", "emit", "allowed_lateness", "backfill", "lake", "rollups"});
      }
    }
    if (rollups_option_ != nullptr) return PlanRollups(*rollups_option_);
    return Status::Ok();
  }

  // rollups = '<size> after <age>[, <size> after <age>]…' (RollupTier).
  Status PlanRollups(const Option& option) {
    const SourceLocation at = option.value.location;
    SLUICE_ASSIGN_OR_RETURN(std::string text, WordOption(option));
    if (plan_.window.kind != WindowKind::kTumble)
      return ErrorAt(option.key.location,
                     "rollups need a TUMBLE view: each tier counts the same events in coarser "
                     "tumbling windows");
    auto duration = [&](std::string_view part, std::string_view what) -> Result<int64_t> {
      Result<int64_t> micros = ParseInterval(part);
      if (!micros.ok()) micros = ParseDuration(part);
      if (!micros.ok() || *micros <= 0)
        return ErrorAt(at, fmt::format("rollups: {} '{}' is not a positive duration", what, part));
      return *micros;
    };
    int64_t previous_size = plan_.window.size_micros;
    int64_t previous_after = 0;
    for (std::string_view rest = text; !rest.empty();) {
      const size_t comma = rest.find(',');
      std::string_view tier = Trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t after = tier.find(" after ");
      if (after == std::string_view::npos)
        return ErrorAt(at, fmt::format("rollups: '{}' should read '<size> after <age>', e.g. "
                                       "'1 hour after 30 days'",
                                       tier));
      RollupTier t;
      SLUICE_ASSIGN_OR_RETURN(t.size_micros, duration(Trim(tier.substr(0, after)), "size"));
      SLUICE_ASSIGN_OR_RETURN(t.after_micros, duration(Trim(tier.substr(after + 7)), "age"));
      if (t.size_micros <= previous_size || t.size_micros % previous_size != 0)
        return ErrorAt(at, fmt::format("rollups: each size must be a multiple of the one before "
                                       "(the view's window first): '{}'",
                                       tier));
      if (t.after_micros <= previous_after)
        return ErrorAt(at,
                       fmt::format("rollups: the ages must grow from tier to tier: '{}'", tier));
      if (plan_.retention_micros && t.after_micros >= *plan_.retention_micros)
        return ErrorAt(at, fmt::format("rollups: '{}' starts after the view's retention; a tier "
                                       "must start before the rows are gone",
                                       tier));
      t.name = plan_.name + "_" + SizeLabel(t.size_micros);
      previous_size = t.size_micros;
      previous_after = t.after_micros;
      plan_.rollups.push_back(std::move(t));
    }
    if (plan_.rollups.empty()) return ErrorAt(at, "rollups: name at least one tier");
    for (size_t i = 0; i < plan_.rollups.size(); ++i)
      plan_.rollups[i].retention_micros = i + 1 < plan_.rollups.size()
                                              ? std::optional(plan_.rollups[i + 1].after_micros)
                                              : plan_.retention_micros;
    plan_.retention_micros = plan_.rollups.front().after_micros;
    return Status::Ok();
  }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  }

  // "1d", "6h", "15m", "30s": the largest whole unit.
  static std::string SizeLabel(int64_t micros) {
    constexpr std::pair<int64_t, char> kUnits[] = {
        {86'400'000'000, 'd'}, {3'600'000'000, 'h'}, {60'000'000, 'm'}, {1'000'000, 's'}};
    for (const auto& [unit, letter] : kUnits)
      if (micros % unit == 0) return fmt::format("{}{}", micros / unit, letter);
    return fmt::format("{}us", micros);
  }

  Status PlanWhere() {
    if (plan_.interval_join) return PlanIntervalJoinWhere(query_, input_, plan_);
    if (!query_.where) return Status::Ok();
    Scope scope = input_;
    scope.SetAggregateHint("in WHERE; use HAVING to filter on aggregates");
    SLUICE_ASSIGN_OR_RETURN(BoundExpr where, Bind(*query_.where, scope));
    if (!IsBooleanish(where.type))
      return ErrorAt(query_.where->location,
                     fmt::format("WHERE must be BOOLEAN, found {}", TypeName(where.type)));
    SLUICE_RETURN_IF_ERROR(CheckNotSessionBounds(where, query_.where->location, "WHERE"));
    plan_.where = std::move(where);
    return Status::Ok();
  }

  // A session's bounds are known only once its events are: nothing per event may read them.
  Status CheckNotSessionBounds(const BoundExpr& e, SourceLocation location,
                               std::string_view clause) const {
    if (plan_.window.kind != WindowKind::kSession) return Status::Ok();
    if (ReadsColumn(e, ViewPlan::kWindowStartColumn) || ReadsColumn(e, ViewPlan::kWindowEndColumn))
      return ErrorAt(location, fmt::format("{} cannot read window_start or window_end of a SESSION "
                                           "window: they change as the session grows; use HAVING",
                                           clause));
    return Status::Ok();
  }

  // Sessions are keyed by the GROUP BY keys; a PARTITION BY (or key arguments) must name the
  // same keys, so the two spellings cannot disagree.
  Status CheckSessionPartition() const {
    for (const Expr& key : session_partition_) {
      if (std::find(key_asts_.begin(), key_asts_.end(), key) == key_asts_.end())
        return ErrorAt(key.location,
                       "a SESSION window is keyed by the view's GROUP BY keys: GROUP BY this "
                       "session key too");
    }
    if (!session_partition_.empty() && session_partition_.size() < key_asts_.size())
      return ErrorAt(session_partition_.front().location,
                     "a SESSION window is keyed by the view's GROUP BY keys: its PARTITION BY "
                     "must list every GROUP BY key (or leave PARTITION BY out)");
    return Status::Ok();
  }

  // A GROUP BY item that is the window: window_start / window_end (or alias.window_start).
  bool IsWindowColumn(const BoundExpr& bound) const {
    return bound.kind == BoundExpr::Kind::kColumn &&
           (bound.column == ViewPlan::kWindowStartColumn ||
            bound.column == ViewPlan::kWindowEndColumn);
  }

  Status PlanGroupBy() {
    Scope scope = input_;
    scope.SetAggregateHint("in GROUP BY");
    for (const Expr& item : query_.group_by) {
      const Expr* key = &item;
      if (const auto* ordinal = std::get_if<IntegerLiteral>(&item.node)) {
        // GROUP BY 2: the second select item (PostgreSQL, DuckDB).
        const int64_t n = ordinal->value;
        if (n < 1 || n > static_cast<int64_t>(query_.select_list.size()))
          return ErrorAt(item.location,
                         fmt::format("GROUP BY position {} is not in the select list (1 to {})", n,
                                     query_.select_list.size()));
        key = &std::get<Expr>(query_.select_list[static_cast<size_t>(n - 1)].value);
        if (!FindAggregates(*key).empty())
          return ErrorAt(item.location,
                         fmt::format("GROUP BY position {} refers to an aggregate", n));
      }
      SLUICE_ASSIGN_OR_RETURN(BoundExpr bound, Bind(*key, scope));
      if (IsWindowColumn(bound)) {
        grouped_by_window_ = true;
        window_keys_.push_back(*key);
        continue;
      }
      if (ReadsColumn(bound, ViewPlan::kWindowStartColumn) ||
          ReadsColumn(bound, ViewPlan::kWindowEndColumn))
        return ErrorAt(key->location,
                       "a GROUP BY key may be window_start or window_end itself, not an "
                       "expression over them");
      if (bound.type == Type::kJson)
        return ErrorAt(key->location, "cannot GROUP BY a JSON value; extract a field or cast it");
      if (std::find(key_asts_.begin(), key_asts_.end(), *key) != key_asts_.end()) continue;
      key_asts_.push_back(*key);
      key_locations_.push_back(item.location);
      plan_.keys.push_back(std::move(bound));
    }
    SLUICE_RETURN_IF_ERROR(CheckSessionPartition());
    if (plan_.window.kind != WindowKind::kNone && !grouped_by_window_)
      return ErrorAt(query_.group_by.empty() ? window_location_ : query_.group_by.front().location,
                     fmt::format("a view over {} must GROUP BY window_start (or window_end): its "
                                 "rows are per window",
                                 window_name_));
    return Status::Ok();
  }

  Status PlanAggregate(const Expr& call_expr) {
    const auto& call = std::get<FunctionCall>(call_expr.node);
    const SourceLocation loc = call_expr.location;
    AggregateSpec spec;
    spec.sql = ToSql(call_expr);
    Scope scope = input_;
    scope.SetAggregateHint("aggregate calls cannot be nested");
    for (const Expr& arg : call.args) {
      if (std::vector<const Expr*> nested = FindAggregates(arg); !nested.empty())
        return ErrorAt(nested.front()->location, "aggregate calls cannot be nested");
    }
    auto bind_arg = [&]() -> Status {
      SLUICE_ASSIGN_OR_RETURN(BoundExpr arg, Bind(call.args[0], scope));
      if (ReadsColumn(arg, ViewPlan::kWindowStartColumn) ||
          ReadsColumn(arg, ViewPlan::kWindowEndColumn))
        return ErrorAt(call.args[0].location,
                       "an aggregate's argument cannot read window_start or window_end");
      spec.argument = std::move(arg);
      return Status::Ok();
    };
    const std::string& name = call.name;
    if (name == "count") {
      if (call.star) {
        spec.kind = AggregateKind::kCountStar;
      } else if (call.args.size() != 1) {
        return ErrorAt(loc,
                       "count takes one argument, or *: count(*), count(x), "
                       "count(DISTINCT x)");
      } else {
        spec.kind = call.distinct ? AggregateKind::kCountDistinct : AggregateKind::kCount;
        SLUICE_RETURN_IF_ERROR(bind_arg());
        if (spec.kind == AggregateKind::kCountDistinct && spec.argument->type == Type::kJson)
          return ErrorAt(call.args[0].location,
                         "count(DISTINCT ...) of JSON values is not "
                         "supported; extract a field or cast it");
      }
      spec.result_type = Type::kBigint;
    } else if (name == "sum" || name == "avg" || name == "min" || name == "max") {
      if (call.star) return ErrorAt(loc, fmt::format("{}(*) is only valid for count", name));
      if (call.args.size() != 1)
        return ErrorAt(loc, fmt::format("{} takes one argument, found {}", name, call.args.size()));
      const bool numeric = name == "sum" || name == "avg";
      if (call.distinct && numeric)
        return ErrorAt(loc, fmt::format("{}(DISTINCT ...) is not supported yet; DISTINCT works "
                                        "in count(DISTINCT x)",
                                        name));
      SLUICE_RETURN_IF_ERROR(bind_arg());
      const Type t = spec.argument->type;
      if (numeric && !IsNumeric(t) && t != Type::kAny && t != Type::kNull)
        return ErrorAt(call.args[0].location,
                       fmt::format("{} needs a number, found {}", name, TypeName(t)));
      if (!numeric && t == Type::kJson)
        return ErrorAt(call.args[0].location,
                       fmt::format("{} of JSON values is not supported; extract a field", name));
      if (name == "sum") {
        spec.kind = AggregateKind::kSum;
        spec.result_type = t == Type::kNull ? Type::kBigint : t;
      } else if (name == "avg") {
        spec.kind = AggregateKind::kAvg;
        spec.result_type = Type::kDouble;
      } else {
        spec.kind = name == "min" ? AggregateKind::kMin : AggregateKind::kMax;
        spec.result_type = t;
      }
    } else if (name == "approx_count_distinct" || name == "first_value" || name == "last_value") {
      if (call.star) return ErrorAt(loc, fmt::format("{}(*) is only valid for count", name));
      if (call.args.size() != 1)
        return ErrorAt(loc, fmt::format("{} takes one argument, found {}", name, call.args.size()));
      SLUICE_RETURN_IF_ERROR(bind_arg());
      if (spec.argument->type == Type::kJson)
        return ErrorAt(call.args[0].location,
                       fmt::format("{} of JSON values is not supported; extract a field", name));
      if (name == "approx_count_distinct") {
        spec.kind = AggregateKind::kApproxCountDistinct;
        spec.result_type = Type::kBigint;
      } else {
        if (call.distinct)
          return ErrorAt(loc, fmt::format("{}(DISTINCT ...) means nothing: drop DISTINCT", name));
        spec.kind = name == "first_value" ? AggregateKind::kFirstValue : AggregateKind::kLastValue;
        spec.result_type = spec.argument->type;
      }
    } else if (name == "approx_percentile") {
      if (call.star || call.args.size() != 2 || call.distinct)
        return ErrorAt(loc,
                       "approx_percentile takes a number and a fraction: "
                       "approx_percentile(x, 0.95)");
      Scope empty;
      Result<BoundExpr> fraction = Bind(call.args[1], empty);
      const bool constant = fraction.ok() && fraction->kind == BoundExpr::Kind::kConstant &&
                            IsNumeric(fraction->constant.type);
      const double f = !constant ? -1
                       : fraction->constant.type == Type::kDouble
                           ? fraction->constant.real
                           : static_cast<double>(fraction->constant.integer);
      if (!(f >= 0 && f <= 1))
        return ErrorAt(call.args[1].location,
                       "the fraction of approx_percentile must be a constant from 0 to 1, e.g. "
                       "0.95");
      SLUICE_ASSIGN_OR_RETURN(BoundExpr arg, Bind(call.args[0], scope));
      if (!IsNumeric(arg.type) && arg.type != Type::kAny && arg.type != Type::kNull)
        return ErrorAt(
            call.args[0].location,
            fmt::format("approx_percentile needs a number, found {}", TypeName(arg.type)));
      if (ReadsColumn(arg, ViewPlan::kWindowStartColumn) ||
          ReadsColumn(arg, ViewPlan::kWindowEndColumn))
        return ErrorAt(call.args[0].location,
                       "an aggregate's argument cannot read window_start or window_end");
      spec.argument = std::move(arg);
      spec.kind = AggregateKind::kApproxPercentile;
      spec.fraction = f;
      spec.result_type = Type::kDouble;
    } else {
      return ErrorAt(loc, fmt::format("'{}' is not an aggregate Sluice supports (supported: "
                                      "count, count(DISTINCT x), sum, min, max, avg, "
                                      "approx_count_distinct, approx_percentile, first_value, "
                                      "last_value)",
                                      name));
    }
    if (call.filter) {
      Scope filter_scope = input_;
      filter_scope.SetAggregateHint("in FILTER");
      SLUICE_ASSIGN_OR_RETURN(BoundExpr filter, Bind(**call.filter, filter_scope));
      if (!IsBooleanish(filter.type))
        return ErrorAt(
            (*call.filter)->location,
            fmt::format("FILTER (WHERE ...) must be BOOLEAN, found {}", TypeName(filter.type)));
      SLUICE_RETURN_IF_ERROR(CheckNotSessionBounds(filter, (*call.filter)->location, "FILTER"));
      spec.filter = std::move(filter);
    }
    plan_.aggregates.push_back(std::move(spec));
    return Status::Ok();
  }

  Status PlanAggregates() {
    auto collect = [&](const Expr& e) -> Status {
      for (const Expr* call : FindAggregates(e)) {
        if (std::find(aggregate_asts_.begin(), aggregate_asts_.end(), *call) !=
            aggregate_asts_.end())
          continue;
        SLUICE_RETURN_IF_ERROR(PlanAggregate(*call));
        aggregate_asts_.push_back(*call);
      }
      return Status::Ok();
    };
    for (const SelectItem& item : query_.select_list)
      SLUICE_RETURN_IF_ERROR(collect(std::get<Expr>(item.value)));
    if (query_.having) SLUICE_RETURN_IF_ERROR(collect(*query_.having));
    if (plan_.keys.empty() && !grouped_by_window_ && plan_.aggregates.empty())
      return ErrorAt(query_.select_list.front().location,
                     "a materialized view aggregates: add GROUP BY or an aggregate such as "
                     "count(*) (views of single events are not supported yet)");
    return Status::Ok();
  }

  Status PlanOutput() {
    Scope out;
    for (size_t i = 0; i < key_asts_.size(); ++i)
      out.AddExpression(key_asts_[i], plan_.keys[i].type, static_cast<int>(i));
    for (size_t i = 0; i < aggregate_asts_.size(); ++i)
      out.AddExpression(aggregate_asts_[i], plan_.aggregates[i].result_type,
                        plan_.aggregate_column(i));
    if (plan_.window.kind != WindowKind::kNone) {
      out.AddColumn("window_start", Type::kTimestamp, plan_.window_start_column(), window_alias_);
      out.AddColumn("window_end", Type::kTimestamp, plan_.window_end_column(), window_alias_);
    }
    out.SetUnknownNameHint(
        "a view's columns are computed from its GROUP BY keys and aggregates; group by it or "
        "aggregate it");

    std::vector<bool> key_shown(plan_.keys.size(), false);
    bool window_shown = false;
    for (const SelectItem& item : query_.select_list) {
      const Expr& expr = std::get<Expr>(item.value);
      OutputColumn column;
      column.name = item.alias ? item.alias->name : DefaultColumnName(expr);
      Result<BoundExpr> bound = Bind(expr, out);
      if (!bound.ok()) return NotGroupedError(bound.status());
      column.expr = std::move(*bound);
      column.type = column.expr.type;
      for (const OutputColumn& other : plan_.columns) {
        if (other.name == column.name)
          return ErrorAt(
              item.location,
              fmt::format("the view has two columns named '{}'; name one with AS", column.name));
      }
      if (column.expr.kind == BoundExpr::Kind::kColumn) {
        const int c = column.expr.column;
        const bool is_key = c < static_cast<int>(plan_.keys.size()) && !key_shown[c];
        const bool is_window =
            (c == plan_.window_start_column() || c == plan_.window_end_column()) &&
            plan_.window.kind != WindowKind::kNone && !window_shown;
        if (is_key) key_shown[c] = true;
        if (is_window) window_shown = true;
        if (is_key || is_window) plan_.key_columns.push_back(column.name);
      }
      plan_.columns.push_back(std::move(column));
    }
    for (size_t i = 0; i < key_shown.size(); ++i) {
      if (!key_shown[i])
        return ErrorAt(key_locations_[i],
                       fmt::format("GROUP BY key {} must also be a column of the view: rows are "
                                   "identified by their keys",
                                   ToSql(key_asts_[i])));
    }
    if (plan_.window.kind != WindowKind::kNone && !window_shown)
      return ErrorAt(window_keys_.front().location,
                     "window_start (or window_end) must also be a column of the view: rows are "
                     "identified by their window");
    if (query_.having) {
      Result<BoundExpr> having = Bind(*query_.having, out);
      if (!having.ok()) return NotGroupedError(having.status());
      if (!IsBooleanish(having->type))
        return ErrorAt(query_.having->location,
                       fmt::format("HAVING must be BOOLEAN, found {}", TypeName(having->type)));
      plan_.having = std::move(*having);
    }
    return Status::Ok();
  }

  // Rewords "unknown column 'x'" after GROUP BY for the common mistakes: an event field that is
  // neither grouped nor aggregated, and window_start without a window.
  Status NotGroupedError(const Status& status) {
    const std::string& message = status.message();
    if (message.find("unknown column '") == std::string::npos) return status;
    const size_t at = message.find("unknown column '");
    const size_t start = at + 16;
    const std::string name = message.substr(start, message.find('\'', start) - start);
    const size_t colon = message.find(": ");
    const std::string where = message.substr(0, colon);
    if ((name == "window_start" || name == "window_end") && plan_.window.kind == WindowKind::kNone)
      return Status::InvalidArgument(fmt::format(
          "{}: {} needs a window: read the stream through TUMBLE(...) or HOP(...)", where, name));
    return Status::InvalidArgument(fmt::format(
        "{}: column '{}' must appear in GROUP BY or be used in an aggregate", where, name));
  }

  const CreateMaterializedView& create_;
  const Query& query_;
  const PlannerCatalog& catalog_;
  ViewPlan plan_;
  const Option* rollups_option_ = nullptr;  // planned once every other option is read
  const StreamSpec* stream_ = nullptr;
  std::vector<std::string> qualifiers_;
  std::string window_alias_;
  std::string window_name_;
  SourceLocation window_location_;
  Scope input_;
  std::vector<Expr> key_asts_;
  std::vector<SourceLocation> key_locations_;
  std::vector<Expr> window_keys_;
  std::vector<Expr> session_partition_;  // SESSION's PARTITION BY keys, if any
  std::vector<Expr> aggregate_asts_;
  bool grouped_by_window_ = false;
};

}  // namespace

void ExactlyOnceScope(const StreamSpec& spec, Scope& scope) {
  scope.SetEventRelation({spec.name});
  scope.AddColumn("event_time", Type::kTimestamp, 0);
  if (spec.columns.empty()) return;
  scope.SetFieldTypeHook([columns = spec.columns](const FieldPath& path) -> std::optional<Type> {
    if (path.size() != 1 || path[0].index >= 0) return std::nullopt;
    for (const StreamColumn& c : columns)
      if (c.name == path[0].name) return c.type;
    return std::nullopt;
  });
}

Result<StreamSpec> PlanStream(const CreateStream& create) {
  StreamSpec spec;
  spec.name = create.name.name;
  if (spec.name.starts_with('_') || spec.name.find('/') != std::string::npos ||
      spec.name.find('.') != std::string::npos || spec.name.size() > 128)
    return ErrorAt(create.name.location,
                   fmt::format("invalid stream name '{}': use letters, digits, '_' and '-', not "
                               "starting with '_', at most 128 characters",
                               spec.name));
  for (char c : spec.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok)
      return ErrorAt(
          create.name.location,
          fmt::format("invalid stream name '{}': use letters, digits, '_' and '-'", spec.name));
  }
  for (const ColumnDef& column : create.columns)
    spec.columns.push_back({column.name.name, TypeForDataType(column.type), ToSql(column.type)});
  std::optional<SourceLocation> delivery_location;
  for (const Option& option : create.options) {
    const std::string& key = option.key.name;
    if (key == "subject") {
      SLUICE_ASSIGN_OR_RETURN(spec.subject, WordOption(option));
    } else if (key == "event_time") {
      SLUICE_ASSIGN_OR_RETURN(spec.event_time, NonEmptyWordOption(option));
    } else if (key == "dedup_key") {
      SLUICE_ASSIGN_OR_RETURN(spec.dedup_key, NonEmptyWordOption(option));
    } else if (key == "partition_key") {
      SLUICE_ASSIGN_OR_RETURN(spec.partition_key, WordOption(option));
    } else if (key == "delivery") {
      SLUICE_ASSIGN_OR_RETURN(std::string delivery, WordOption(option));
      delivery_location = option.value.location;
      if (delivery == "exactly_once") {
        spec.delivery = Delivery::kExactlyOnce;
      } else if (delivery == "at_least_once") {
        spec.delivery = Delivery::kAtLeastOnce;
      } else {
        return ErrorAt(
            option.value.location,
            fmt::format("delivery must be 'exactly_once' or 'at_least_once', not '{}'", delivery));
      }
    } else if (key == "exactly_once_when") {
      SLUICE_ASSIGN_OR_RETURN(spec.exactly_once_when, ExactlyOncePredicate(option, spec));
    } else if (key == "dedup_horizon") {
      SLUICE_ASSIGN_OR_RETURN(spec.dedup_horizon_micros,
                              DurationOption(option, /*allow_zero=*/false));
    } else if (key == "watermark_delay") {
      SLUICE_ASSIGN_OR_RETURN(spec.watermark_delay_micros,
                              DurationOption(option, /*allow_zero=*/true));
    } else if (key == "retention") {
      SLUICE_ASSIGN_OR_RETURN(spec.retention_micros, DurationOption(option, /*allow_zero=*/false));
    } else if (key == "archive") {
      SLUICE_ASSIGN_OR_RETURN(std::string archive, WordOption(option));
      if (archive != "on" && archive != "off")
        return ErrorAt(option.value.location,
                       fmt::format("archive must be 'on' or 'off', not '{}'", archive));
      spec.archive = archive == "on";
    } else if (key == "archive_retention") {
      SLUICE_ASSIGN_OR_RETURN(spec.archive_retention_micros,
                              DurationOption(option, /*allow_zero=*/false));
    } else if (key == "partitions") {
      const auto* n = std::get_if<IntegerLiteral>(&option.value.node);
      if (n == nullptr || n->value < 1 || n->value > 1024)
        return ErrorAt(option.value.location, "partitions must be an integer from 1 to 1024");
      spec.partitions = static_cast<uint32_t>(n->value);
    } else {
      return UnknownOption(option, {"subject", "event_time", "watermark_delay", "delivery",
                                    "dedup_key", "exactly_once_when", "dedup_horizon", "retention",
                                    "partition_key", "partitions", "archive", "archive_retention"});
    }
  }
  if (!spec.exactly_once_when.empty()) {
    if (delivery_location && spec.delivery == Delivery::kAtLeastOnce)
      return ErrorAt(*delivery_location,
                     "exactly_once_when picks the exactly-once events of a stream: write "
                     "delivery = 'exactly_once' (the other events get at-least-once), or leave "
                     "exactly_once_when out");
    spec.delivery = Delivery::kExactlyOnce;
  }
  if (spec.dedup_horizon_micros && spec.delivery == Delivery::kAtLeastOnce)
    return ErrorAt(create.name.location,
                   "dedup_horizon needs exactly-once events: add delivery = 'exactly_once'");
  if (spec.archive_retention_micros && !spec.archive)
    return ErrorAt(create.name.location, "archive_retention needs the archive: add archive = 'on'");
  return spec;
}

Result<TableSpec> PlanTable(const CreateTable& create) {
  TableSpec spec;
  spec.name = create.name.name;
  const bool valid_name = !spec.name.empty() && !spec.name.starts_with('_') &&
                          spec.name.size() <= 128 &&
                          std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
                            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (c >= '0' && c <= '9') || c == '_' || c == '-';
                          });
  if (!valid_name)
    return ErrorAt(create.name.location,
                   fmt::format("invalid table name '{}': use letters, digits, '_' and '-', not "
                               "starting with '_', at most 128 characters",
                               spec.name));
  for (const ColumnDef& column : create.columns) {
    if (column.name.name.starts_with('_'))
      return ErrorAt(column.name.location,
                     fmt::format("column names starting with '_' are reserved (_deleted marks "
                                 "a row to delete): rename '{}'",
                                 column.name.name));
    const Type type = TypeForDataType(column.type);
    if (type == Type::kInterval)
      return ErrorAt(column.name.location, "INTERVAL columns are not supported in tables");
    spec.columns.push_back({column.name.name, type, ToSql(column.type)});
  }
  if (create.primary_key.empty())
    return ErrorAt(create.name.location,
                   fmt::format("table '{}' needs a primary key: rows are upserted and looked up "
                               "by it, e.g. PRIMARY KEY ({})",
                               spec.name, create.columns.front().name.name));
  for (const Identifier& key : create.primary_key) {
    for (size_t i = 0; i < create.columns.size(); ++i) {
      if (create.columns[i].name.name != key.name) continue;
      if (spec.columns[i].type == Type::kJson)
        return ErrorAt(key.location, "a JSON column cannot be part of the primary key");
      spec.primary_key.push_back(static_cast<int>(i));
    }
  }
  if (!create.options.empty())
    return ErrorAt(create.options.front().key.location,
                   fmt::format("unknown option '{}': tables have no options yet",
                               create.options.front().key.name));
  return spec;
}

Result<ViewPlan> PlanView(const CreateMaterializedView& create, const PlannerCatalog& catalog) {
  ViewPlanner planner(create, catalog);
  return planner.Plan();
}

ViewPlan RollupPlan(const ViewPlan& base, size_t tier) {
  const RollupTier& t = base.rollups.at(tier);
  ViewPlan plan = base;
  plan.name = t.name;
  plan.window.size_micros = t.size_micros;
  plan.retention_micros = t.retention_micros;
  plan.rollups.clear();
  plan.lake_table = false;
  return plan;
}

}  // namespace sluice::sql
