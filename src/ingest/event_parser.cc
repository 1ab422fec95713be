#include "ingest/event_parser.h"

#include <cstring>

#include <fmt/format.h>

#include "base/time.h"

namespace sluice::ingest {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsJsonSpace(s[b])) ++b;
  while (e > b && IsJsonSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void SplitLines(std::string_view body, size_t base_index, std::vector<RecordSlice>& out) {
  size_t index = base_index;
  size_t pos = 0;
  while (pos < body.size()) {
    const void* nl = std::memchr(body.data() + pos, '\n', body.size() - pos);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - body.data()) : body.size();
    std::string_view line = Trim(body.substr(pos, end - pos));
    if (!line.empty()) out.push_back({index++, line});
    pos = end + 1;
  }
}

// Splits the elements of a top-level JSON array by tracking strings and nesting depth. This only
// finds boundaries; each element is validated afterwards by the real parser.
Status SplitArray(std::string_view body, size_t open, std::vector<RecordSlice>& out) {
  size_t depth = 0;
  bool in_string = false;
  size_t element_start = open + 1;
  size_t index = 0;
  bool closed = false;
  size_t pos = open + 1;
  auto emit = [&](size_t end) -> bool {
    std::string_view element = Trim(body.substr(element_start, end - element_start));
    if (element.empty()) return false;
    out.push_back({index++, element});
    return true;
  };
  for (; pos < body.size(); ++pos) {
    char c = body[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[': ++depth; break;
      case '}':
      case ']':
        if (depth == 0) {
          if (c == '}')
            return Status::InvalidArgument(
                fmt::format("invalid JSON array: unexpected '}}' at byte {}", pos));
          if (!emit(pos) && index > 0)
            return Status::InvalidArgument(
                fmt::format("invalid JSON array: empty element before byte {}", pos));
          closed = true;
        } else {
          --depth;
        }
        break;
      case ',':
        if (depth == 0) {
          if (!emit(pos))
            return Status::InvalidArgument(
                fmt::format("invalid JSON array: empty element before byte {}", pos));
          element_start = pos + 1;
        }
        break;
      default: break;
    }
    if (closed) break;
  }
  if (!closed)
    return Status::InvalidArgument(
        fmt::format("invalid JSON array: missing closing ']' (body ends at byte {}{})",
                    body.size(), in_string ? ", inside a string" : ""));
  if (!Trim(body.substr(pos + 1)).empty())
    return Status::InvalidArgument(
        fmt::format("invalid JSON array: unexpected content after ']' at byte {}", pos + 1));
  return Status::Ok();
}

constexpr int kMaxDepth = 64;

// Consumes `value` completely so that simdjson validates every byte of it.
simdjson::error_code ConsumeValue(simdjson::ondemand::value value, int depth) {
  using simdjson::ondemand::json_type;
  if (depth > kMaxDepth) return simdjson::DEPTH_ERROR;
  json_type type;
  if (auto err = value.type().get(type)) return err;
  switch (type) {
    case json_type::object: {
      simdjson::ondemand::object obj;
      if (auto err = value.get_object().get(obj)) return err;
      for (auto field : obj) {
        std::string_view key;
        if (auto err = field.unescaped_key().get(key)) return err;
        if (auto err = ConsumeValue(field.value(), depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case json_type::array: {
      simdjson::ondemand::array arr;
      if (auto err = value.get_array().get(arr)) return err;
      for (auto element : arr) {
        simdjson::ondemand::value v;
        if (auto err = element.get(v)) return err;
        if (auto err = ConsumeValue(v, depth + 1)) return err;
      }
      return simdjson::SUCCESS;
    }
    case json_type::string: {
      std::string_view s;
      return value.get_string().get(s);
    }
    case json_type::number: {
      double d;
      return value.get_double().get(d);
    }
    case json_type::boolean: {
      bool b;
      return value.get_bool().get(b);
    }
    case json_type::null: {
      bool is_null = false;
      if (auto err = value.is_null().get(is_null)) return err;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

Status SplitBody(std::string_view body, BodyFormat format, std::vector<RecordSlice>& out) {
  size_t first = 0;
  while (first < body.size() && IsJsonSpace(body[first])) ++first;
  if (first == body.size()) return Status::InvalidArgument("empty body: expected JSON events");
  if (format == BodyFormat::kJson && body[first] == '[') return SplitArray(body, first, out);
  SplitLines(body, 0, out);
  return Status::Ok();
}

uint64_t StableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

EventParser::EventParser(EventFieldNames names) : names_(std::move(names)) {}

Status EventParser::Parse(std::string_view record, EventFields& out) {
  simdjson::padded_string_view input(record.data(), record.size(),
                                     record.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::document doc;
  bool iterating = false;  // the document's location is meaningful only once iterate succeeded
  auto json_error = [&](simdjson::error_code err) {
    const char* at = nullptr;
    if (iterating && !doc.current_location().get(at) && at >= record.data() &&
        at <= record.data() + record.size())
      return Status::InvalidArgument(fmt::format("invalid JSON at byte {}: {}",
                                                 static_cast<size_t>(at - record.data()),
                                                 simdjson::error_message(err)));
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(err)));
  };
  if (auto err = parser_.iterate(input).get(doc)) return json_error(err);
  iterating = true;
  simdjson::ondemand::object obj;
  if (auto err = doc.get_object().get(obj)) {
    if (err == simdjson::INCORRECT_TYPE)
      return Status::InvalidArgument("record is not a JSON object");
    return json_error(err);
  }

  const bool key_is_id = names_.partition_key.empty() || names_.partition_key == names_.id;
  bool have_id = false, have_time = false, have_key = false;
  std::string_view time_text;
  std::string_view key_text;
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) return json_error(err);
    simdjson::ondemand::value value;
    if (auto err = field.value().get(value)) return json_error(err);
    if (key == names_.id) {
      if (have_id) return Status::InvalidArgument(fmt::format("field '{}' appears twice", key));
      simdjson::ondemand::json_type type;
      if (auto err = value.type().get(type)) return json_error(err);
      if (type != simdjson::ondemand::json_type::string)
        return Status::InvalidArgument(fmt::format("field '{}' must be a string", names_.id));
      if (auto err = value.get_string().get(out.id)) return json_error(err);
      if (out.id.empty())
        return Status::InvalidArgument(fmt::format("field '{}' must not be empty", names_.id));
      // Strings of one document live side by side in the parser's buffer, so `out.id` stays
      // valid while the rest of the record is parsed.
      have_id = true;
      if (key_is_id) {
        out.partition_hash = StableHash(out.id);
        have_key = true;
      }
    } else if (key == names_.event_time) {
      if (have_time) return Status::InvalidArgument(fmt::format("field '{}' appears twice", key));
      simdjson::ondemand::json_type type;
      if (auto err = value.type().get(type)) return json_error(err);
      if (type != simdjson::ondemand::json_type::string)
        return Status::InvalidArgument(fmt::format(
            "field '{}' must be an RFC 3339 date-time string", names_.event_time));
      if (auto err = value.get_string().get(time_text)) return json_error(err);
      auto t = ParseRfc3339(time_text);
      if (!t.ok())
        return Status::InvalidArgument(
            fmt::format("field '{}': {}", names_.event_time, t.status().message()));
      out.event_time_micros = t.value();
      have_time = true;
    } else if (!key_is_id && key == names_.partition_key && !have_key) {
      simdjson::ondemand::json_type type;
      if (auto err = value.type().get(type)) return json_error(err);
      if (type == simdjson::ondemand::json_type::string) {
        if (auto err = value.get_string().get(key_text)) return json_error(err);
        out.partition_hash = StableHash(key_text);
        have_key = true;
      } else if (auto err = ConsumeValue(value, 1)) {
        return json_error(err);
      }
    } else if (auto err = ConsumeValue(value, 1)) {
      return json_error(err);
    }
  }
  // Once the object is consumed the iterator must be at the end of the record: anything else is
  // trailing content (`{...} {...}` on one line).
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing))
    return Status::InvalidArgument(fmt::format(
        "invalid JSON at byte {}: unexpected content after the event object",
        static_cast<size_t>(trailing - record.data())));
  if (!have_id)
    return Status::InvalidArgument(fmt::format("missing required field '{}'", names_.id));
  if (!have_time)
    return Status::InvalidArgument(fmt::format("missing required field '{}'", names_.event_time));
  if (!have_key) out.partition_hash = StableHash(out.id);
  return Status::Ok();
}

}  // namespace sluice::ingest
