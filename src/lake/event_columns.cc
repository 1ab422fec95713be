#include "lake/event_columns.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "base/time.h"

namespace sluice::lake {

namespace ondemand = simdjson::ondemand;

bool ParseDecimal(std::string_view s, int precision, int scale, int64_t& unscaled) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  const size_t int_begin = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  const size_t int_end = i;
  size_t frac_begin = i, frac_end = i;
  if (i < s.size() && s[i] == '.') {
    frac_begin = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    frac_end = i;
    if (frac_end == frac_begin) return false;
  }
  if (int_end == int_begin && frac_end == frac_begin) return false;
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_negative = s[i++] == '-';
    if (i == s.size()) return false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (exponent < 100000) exponent = exponent * 10 + (s[i] - '0');
      ++i;
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != s.size()) return false;
  // value = digits × 10^(exponent - fraction length); unscaled = value × 10^scale.
  const size_t int_len = int_end - int_begin, frac_len = frac_end - frac_begin;
  const size_t n = int_len + frac_len;
  auto digit = [&](size_t k) {
    return k < int_len ? s[int_begin + k] : s[frac_begin + k - int_len];
  };
  int64_t shift = exponent + scale - static_cast<int64_t>(frac_len);
  size_t keep = n;  // digits that stay left of the (shifted) point
  if (shift < 0) {
    size_t drop = static_cast<size_t>(std::min<int64_t>(-shift, static_cast<int64_t>(n)));
    for (size_t k = n - drop; k < n; ++k)
      if (digit(k) != '0') return false;  // not exact at this scale
    keep = n - drop;
    shift = 0;
  }
  uint64_t value = 0;
  int significant = 0;
  for (size_t k = 0; k < keep; ++k) {
    int d = digit(k) - '0';
    if (significant == 0 && d == 0) continue;
    if (++significant > precision) return false;
    value = value * 10 + static_cast<uint64_t>(d);
  }
  if (value != 0) {
    for (int64_t k = 0; k < shift; ++k) {
      if (++significant > precision) return false;
      value *= 10;
    }
  }
  // precision <= 18, so value < 10^18 fits int64 with either sign.
  unscaled = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  return true;
}

namespace {

// Appends `s` with every byte sequence that is not well-formed UTF-8 replaced by U+FFFD.
void AppendValidUtf8(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;
    if (ok && len == 3) {
      uint32_t cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
      ok = cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok && len == 4) {
      uint32_t cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) |
                    (p[i + 3] & 0x3F);
      ok = cp >= 0x10000 && cp <= 0x10FFFF;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
}

// The key of `field` without its quotes, in place when it has no escape.
simdjson::error_code ReadKey(ondemand::field& field, std::string_view& key) {
  const char* p = field.key().raw();
  for (size_t n = 0;; ++n) {
    if (p[n] == '"') {
      key = {p, n};
      return simdjson::SUCCESS;
    }
    if (p[n] == '\\') return field.unescaped_key().get(key);
  }
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

struct EventColumns::Impl {
  struct Node {
    std::vector<std::pair<std::string, int>> children;  // key → node index
    int column = -1;
  };
  std::vector<EventColumn> columns;
  std::vector<ColumnSpec> specs;
  std::vector<Node> nodes;  // nodes[0] is the event object
  EventCounters counters;
  ondemand::parser parser;
  std::string padded;                   // the event copied with simdjson's padding after it
  std::vector<uint8_t> set;             // per column: appended for the current event
  std::vector<uint8_t> node_seen;       // per path node: its key was met in the current event
  std::vector<int> set_columns;         // columns appended for the current event, in order
  std::vector<int> mismatched_columns;  // columns of the current event with a type mismatch
  std::string scratch;                  // the raw event made valid UTF-8 (rare)

  int Child(int node, std::string_view key) const {
    for (const auto& [name, index] : nodes[node].children)
      if (name == key) return index;
    return -1;
  }

  // Appends the value of column `c` (or null with a mismatch); false on a JSON error.
  bool ReadValue(int c, ondemand::value& v, ParquetWriter& w) {
    ColumnBuffer& out = w.column(c);
    ondemand::json_type type;
    if (v.type().get(type)) return false;
    bool appended = false;
    if (type == ondemand::json_type::null) {
      out.AppendNull();
      appended = true;
    } else {
      switch (columns[c].type) {
        case ColumnType::kString:
          if (type == ondemand::json_type::string) {
            std::string_view s;
            if (v.get_string().get(s)) return false;
            out.AppendString(s);
            appended = true;
          }
          break;
        case ColumnType::kInt64:
          if (type == ondemand::json_type::number) {
            int64_t i;
            if (!v.get_int64().get(i)) {
              out.AppendInt64(i);
              appended = true;
            }
          }
          break;
        case ColumnType::kDouble:
          if (type == ondemand::json_type::number) {
            double d;
            if (!v.get_double().get(d)) {
              out.AppendDouble(d);
              appended = true;
            }
          }
          break;
        case ColumnType::kBool:
          if (type == ondemand::json_type::boolean) {
            bool b;
            if (v.get_bool().get(b)) return false;
            out.AppendBool(b);
            appended = true;
          }
          break;
        case ColumnType::kTimestampMicros:
          if (type == ondemand::json_type::string) {
            std::string_view s;
            if (v.get_string().get(s)) return false;
            Result<int64_t> micros = ParseRfc3339(s);
            if (micros.ok()) {
              out.AppendInt64(*micros);
              appended = true;
            }
          }
          break;
        case ColumnType::kDecimal: {
          std::string_view text;
          if (type == ondemand::json_type::number) {
            text = TrimRight(v.raw_json_token());
          } else if (type == ondemand::json_type::string) {
            if (v.get_string().get(text)) return false;
          }
          int64_t unscaled;
          if (!text.empty() &&
              ParseDecimal(text, columns[c].precision, columns[c].scale, unscaled)) {
            out.AppendInt64(unscaled);
            appended = true;
          }
          break;
        }
      }
    }
    if (!appended) {
      out.AppendNull();
      mismatched_columns.push_back(c);
    }
    set[c] = 1;
    set_columns.push_back(c);
    return true;
  }

  bool VisitObject(ondemand::object& object, int node, ParquetWriter& w) {
    const size_t wanted = nodes[node].children.size();
    size_t found = 0;
    for (auto field_result : object) {
      ondemand::field field;
      if (std::move(field_result).get(field)) return false;
      std::string_view key;
      if (ReadKey(field, key)) return false;
      int child = Child(node, key);
      if (child < 0) continue;         // on-demand skips the value
      if (node_seen[child]) continue;  // a duplicate key: the first one counts
      node_seen[child] = 1;
      ondemand::value& value = field.value();
      const Node& c = nodes[child];
      if (c.column >= 0) {
        if (!ReadValue(c.column, value, w)) return false;
      } else {
        ondemand::json_type type;
        if (value.type().get(type)) return false;
        if (type == ondemand::json_type::object) {
          ondemand::object inner;
          if (value.get_object().get(inner)) return false;
          if (!VisitObject(inner, child, w)) return false;
        }
      }
      // Everything wanted here was read: leave the rest of the object unread (ingest has
      // validated the event; the raw column keeps it whole).
      if (++found == wanted) break;
    }
    return true;
  }

  void Append(std::string_view event, ParquetWriter& w, bool in_place) {
    ++counters.events;
    set_columns.clear();
    mismatched_columns.clear();
    std::fill(node_seen.begin(), node_seen.end(), 0);
    const char* json = event.data();
    size_t capacity = event.size() + kEventPadding;
    if (!in_place) {
      padded.assign(event);
      padded.reserve(event.size() + simdjson::SIMDJSON_PADDING);
      json = padded.data();
      capacity = padded.capacity();
    }
    bool ok = false;
    ondemand::document doc;
    simdjson::error_code error = parser.iterate(json, event.size(), capacity).get(doc);
    if (!error) {
      ondemand::object object;
      error = doc.get_object().get(object);
      ok = !error && VisitObject(object, 0, w);
    }
    const bool utf8_error = error == simdjson::UTF8_ERROR;
    const size_t n = columns.size();
    if (!ok) {
      ++counters.invalid_events;
      for (int c : set_columns) {
        w.column(c).PopBack();
        set[c] = 0;
      }
      for (size_t c = 0; c < n; ++c) w.column(c).AppendNull();
    } else {
      for (int c : mismatched_columns) ++counters.type_mismatches[c];
      for (size_t c = 0; c < n; ++c) {
        if (set[c])
          set[c] = 0;
        else
          w.column(c).AppendNull();
      }
    }
    if (!utf8_error) {
      w.column(n).AppendString(event);
    } else {
      scratch.clear();
      AppendValidUtf8(scratch, event);
      w.column(n).AppendString(scratch);
    }
  }
};

static_assert(kEventPadding >= simdjson::SIMDJSON_PADDING);

EventColumns::EventColumns(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventColumns::~EventColumns() = default;

Result<std::unique_ptr<EventColumns>> EventColumns::Make(std::vector<EventColumn> columns) {
  auto impl = std::make_unique<Impl>();
  impl->nodes.emplace_back();
  for (size_t c = 0; c < columns.size(); ++c) {
    EventColumn& col = columns[c];
    if (col.name == kRawColumn)
      return Status::InvalidArgument("lake: the column name _raw is reserved for the raw event");
    if (col.path.empty()) col.path = col.name;
    int node = 0;
    std::string_view rest = col.path;
    for (;;) {
      size_t dot = rest.find('.');
      std::string_view part = rest.substr(0, dot);
      if (part.empty())
        return Status::InvalidArgument(
            fmt::format("lake: column '{}': empty segment in JSON path '{}'", col.name, col.path));
      if (impl->nodes[node].column >= 0)
        return Status::InvalidArgument(fmt::format(
            "lake: column '{}': path '{}' is inside another column's value", col.name, col.path));
      int child = impl->Child(node, part);
      if (child < 0) {
        child = static_cast<int>(impl->nodes.size());
        impl->nodes[node].children.emplace_back(std::string(part), child);
        impl->nodes.emplace_back();
      }
      node = child;
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    if (impl->nodes[node].column >= 0 || !impl->nodes[node].children.empty())
      return Status::InvalidArgument(
          fmt::format("lake: column '{}': path '{}' repeats or contains another column's path",
                      col.name, col.path));
    impl->nodes[node].column = static_cast<int>(c);
    ColumnSpec spec{col.name, col.type, true, col.precision, col.scale};
    impl->specs.push_back(std::move(spec));
  }
  impl->specs.push_back(ColumnSpec{std::string(kRawColumn), ColumnType::kString, false, 18, 2,
                                   /*dictionary=*/false});
  // Names and decimal bounds are checked the way the writer checks them.
  SLUICE_RETURN_IF_ERROR(ParquetWriter::OpenBuffer(impl->specs).status());
  impl->counters.type_mismatches.assign(columns.size(), 0);
  impl->set.assign(columns.size(), 0);
  impl->node_seen.assign(impl->nodes.size(), 0);
  impl->columns = std::move(columns);
  return std::unique_ptr<EventColumns>(new EventColumns(std::move(impl)));
}

const std::vector<ColumnSpec>& EventColumns::specs() const {
  return impl_->specs;
}
const EventCounters& EventColumns::counters() const {
  return impl_->counters;
}

void EventColumns::Append(std::string_view event, ParquetWriter& writer) {
  impl_->Append(event, writer, /*in_place=*/false);
}

void EventColumns::AppendPadded(std::string_view event, ParquetWriter& writer) {
  impl_->Append(event, writer, /*in_place=*/true);
}

Status EventColumns::AppendBatch(std::span<const std::string_view> events, ParquetWriter& writer) {
  for (std::string_view e : events) impl_->Append(e, writer, /*in_place=*/false);
  return writer.CommitRows();
}

}  // namespace sluice::lake
