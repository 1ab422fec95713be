#include "ingest/event_parser.h"

#include <cstring>

#include <fmt/format.h>

#include "base/time.h"

namespace sluice::ingest {
namespace {

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

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
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        ++depth;
        break;
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
      default:
        break;
    }
    if (closed) break;
  }
  if (!closed)
    return Status::InvalidArgument(
        fmt::format("invalid JSON array: missing closing ']' (body ends at byte {}{})", body.size(),
                    in_string ? ", inside a string" : ""));
  if (!Trim(body.substr(pos + 1)).empty())
    return Status::InvalidArgument(
        fmt::format("invalid JSON array: unexpected content after ']' at byte {}", pos + 1));
  return Status::Ok();
}

// The schema of streams without one: accepts every JSON value (the parser still checks that
// the record is one complete object and reads the engine's fields).
std::shared_ptr<const schema::CompiledSchema> AcceptAnything() {
  static const auto* const kTrue =
      new std::shared_ptr<const schema::CompiledSchema>(schema::CompileJsonSchema("true").value());
  return *kTrue;
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

EventParser::EventParser(EventFieldNames names) : EventParser(std::move(names), nullptr, 0) {}

EventParser::EventParser(EventFieldNames names,
                         std::shared_ptr<const schema::CompiledSchema> compiled, uint32_t schema_id)
    : names_(std::move(names)), schema_id_(compiled ? schema_id : 0) {
  std::vector<std::string> captured = {names_.id, names_.event_time};
  if (!names_.partition_key.empty() && names_.partition_key != names_.id)
    captured.push_back(names_.partition_key);
  validator_ = std::make_unique<schema::JsonSchemaValidator>(
      compiled ? std::move(compiled) : AcceptAnything(), captured);
}

EventParser::~EventParser() = default;

Status EventParser::Parse(std::string_view record, EventFields& out) {
  // SplitBody trims records, so an object starts with '{'; anything else is not an event. This
  // check comes first so that "[1,2]" is not reported as a schema or missing-field problem.
  if (record.empty() || record.front() != '{')
    return Status::InvalidArgument("record is not a JSON object");
  SLUICE_RETURN_IF_ERROR(validator_->Validate(record));

  const schema::CapturedField& id = validator_->captured(0);
  if (!id.present)
    return Status::InvalidArgument(fmt::format("missing required field '{}'", names_.id));
  if (id.type != schema::JsonType::kString)
    return Status::InvalidArgument(fmt::format("field '{}' must be a string", names_.id));
  if (id.text.empty())
    return Status::InvalidArgument(fmt::format("field '{}' must not be empty", names_.id));
  out.id = id.text;

  const schema::CapturedField& time = validator_->captured(1);
  if (!time.present)
    return Status::InvalidArgument(fmt::format("missing required field '{}'", names_.event_time));
  if (time.type != schema::JsonType::kString)
    return Status::InvalidArgument(
        fmt::format("field '{}' must be an RFC 3339 date-time string", names_.event_time));
  auto t = ParseRfc3339(time.text);
  if (!t.ok())
    return Status::InvalidArgument(
        fmt::format("field '{}': {}", names_.event_time, t.status().message()));
  out.event_time_micros = t.value();

  // Partition by the key when it is a string, else by the id. One hash: FNV-1a is a serial chain
  // of multiplies, ~4 cycles a byte, and hashing the id first cost ~25 ns per event.
  std::string_view partition_text = out.id;
  if (validator_->captured_count() > 2) {
    const schema::CapturedField& key = validator_->captured(2);
    if (key.present && key.type == schema::JsonType::kString) partition_text = key.text;
  }
  out.partition_hash = StableHash(partition_text);
  return Status::Ok();
}

}  // namespace sluice::ingest
