// The one-pass field extractor. The registered paths form a trie; Walk() follows the event and
// the trie together, entering only objects and arrays that lead to a registered path. simdjson
// on-demand skips every value that is not read, without parsing it.
#include "sql/event_fields.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <fmt/format.h>
#include <simdjson.h>

#include "sql/event_fields_json.h"

namespace sluice::sql {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

int FieldSet::Add(const FieldPath& path, FieldMode mode) {
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].mode == mode && entries_[i].path == path) return static_cast<int>(i);
  entries_.push_back({path, mode});
  return static_cast<int>(entries_.size() - 1);
}

namespace {

struct TrieNode {
  PathStep step;        // how the parent reaches this node
  int value_slot = -1;  // the value is wanted whole
  int count_slot = -1;  // the element count is wanted
  std::vector<uint32_t> name_children;
  std::vector<uint32_t> index_children;
  int64_t max_index = -1;  // largest index child
};

}  // namespace

class EventFieldExtractor::Impl {
 public:
  explicit Impl(const FieldSet& fields) {
    nodes_.emplace_back();  // the root
    for (size_t slot = 0; slot < fields.size(); ++slot) {
      uint32_t at = 0;
      for (const PathStep& step : fields.path(static_cast<int>(slot))) at = Child(at, step);
      if (fields.mode(static_cast<int>(slot)) == FieldMode::kCount) {
        nodes_[at].count_slot = static_cast<int>(slot);
      } else {
        nodes_[at].value_slot = static_cast<int>(slot);
      }
    }
    seen_.resize(nodes_.size());
  }

  Status Extract(std::string_view record, std::vector<Value>& values) {
    std::fill(values.begin(), values.end(), Value());
    values_ = values.data();
    arena_.Reset();
    pending_.clear();
    record_ = record;
    simdjson::padded_string_view input(record.data(), record.size(),
                                       record.size() + simdjson::SIMDJSON_PADDING);
    error_code error = WalkDocument(parser_, input, 0, /*with_value=*/false);
    if (error) return Invalid(error);
    // Paths below a value that was also wanted whole: read them from its text.
    for (size_t i = 0; i < pending_.size(); ++i) {
      const Pending p = pending_[i];
      // The text lies inside the record, so the record's padding follows it.
      const size_t readable = static_cast<size_t>(record.data() + record.size() - p.text.data()) +
                              simdjson::SIMDJSON_PADDING;
      simdjson::padded_string_view sub(p.text.data(), p.text.size(), readable);
      error = WalkDocument(nested_parser_, sub, p.node, /*with_value=*/false);
      if (error) return Invalid(error);
    }
    return Status::Ok();
  }

 private:
  struct Pending {
    uint32_t node;
    std::string_view text;
  };

  uint32_t Child(uint32_t parent, const PathStep& step) {
    std::vector<uint32_t>& list =
        step.index >= 0 ? nodes_[parent].index_children : nodes_[parent].name_children;
    for (uint32_t c : list)
      if (nodes_[c].step == step) return c;
    const auto id = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
    nodes_.back().step = step;
    std::vector<uint32_t>& again =
        step.index >= 0 ? nodes_[parent].index_children : nodes_[parent].name_children;
    again.push_back(id);
    if (step.index >= 0) nodes_[parent].max_index = std::max(nodes_[parent].max_index, step.index);
    return id;
  }

  Status Invalid(error_code error) const {
    return Status::InvalidArgument(fmt::format("invalid JSON: {}", simdjson::error_message(error)));
  }

  error_code WalkDocument(ondemand::parser& parser, simdjson::padded_string_view input,
                          uint32_t node, bool with_value) {
    ondemand::document doc;
    SIMDJSON_TRY(parser.iterate(input).get(doc));
    ondemand::json_type type;
    SIMDJSON_TRY(doc.type().get(type));
    if (type != ondemand::json_type::object && type != ondemand::json_type::array) {
      return simdjson::SUCCESS;  // a scalar event has no fields
    }
    ondemand::value root;
    SIMDJSON_TRY(doc.get_value().get(root));
    return Walk(root, node, with_value);
  }

  // Reads `v` for trie node `id`: its value and/or count, and its children.
  error_code Walk(ondemand::value& v, uint32_t id, bool with_value) {
    const TrieNode& node = nodes_[id];
    ondemand::json_type type;
    SIMDJSON_TRY(v.type().get(type));
    if (with_value && node.value_slot >= 0) {
      Value& out = values_[node.value_slot];
      switch (type) {
        case ondemand::json_type::object: {
          ondemand::object object;
          std::string_view text;
          SIMDJSON_TRY(v.get_object().get(object));
          SIMDJSON_TRY(object.raw_json().get(text));
          out = Value::Json(text);
          if (!node.name_children.empty() || !node.index_children.empty() || node.count_slot >= 0)
            pending_.push_back({id, text});
          return simdjson::SUCCESS;
        }
        case ondemand::json_type::array: {
          ondemand::array array;
          std::string_view text;
          SIMDJSON_TRY(v.get_array().get(array));
          SIMDJSON_TRY(array.raw_json().get(text));
          out = Value::Json(text);
          if (!node.name_children.empty() || !node.index_children.empty() || node.count_slot >= 0)
            pending_.push_back({id, text});
          return simdjson::SUCCESS;
        }
        default:
          return ReadScalar(v, type, out);
      }
    }
    if (type == ondemand::json_type::object && !node.name_children.empty()) {
      ondemand::object object;
      SIMDJSON_TRY(v.get_object().get(object));
      return WalkObject(object, node);
    }
    if (type == ondemand::json_type::array &&
        (node.count_slot >= 0 || !node.index_children.empty())) {
      ondemand::array array;
      SIMDJSON_TRY(v.get_array().get(array));
      return WalkArray(array, node);
    }
    return simdjson::SUCCESS;
  }

  error_code WalkObject(ondemand::object& object, const TrieNode& node) {
    const size_t wanted = node.name_children.size();
    for (uint32_t c : node.name_children) seen_[c] = 0;
    size_t found = 0;
    for (auto field_result : object) {
      ondemand::field field;
      SIMDJSON_TRY(std::move(field_result).get(field));
      std::string_view key;
      SIMDJSON_TRY(ReadKey(field, key));
      for (uint32_t c : node.name_children) {
        if (seen_[c] || nodes_[c].step.name != key) continue;
        seen_[c] = 1;  // a duplicate key later in the object is ignored: the first one wins
        SIMDJSON_TRY(Walk(field.value(), c, /*with_value=*/true));
        ++found;
        break;
      }
      // Everything wanted here was read: leave the rest of the object unread.
      if (found == wanted) break;
    }
    return simdjson::SUCCESS;
  }

  error_code WalkArray(ondemand::array& array, const TrieNode& node) {
    int64_t index = 0;
    for (auto element : array) {
      ondemand::value v;
      SIMDJSON_TRY(std::move(element).get(v));
      for (uint32_t c : node.index_children) {
        if (nodes_[c].step.index == index) {
          SIMDJSON_TRY(Walk(v, c, /*with_value=*/true));
          break;
        }
      }
      ++index;
      if (node.count_slot < 0 && index > node.max_index) break;
    }
    if (node.count_slot >= 0) values_[node.count_slot] = Value::Bigint(index);
    return simdjson::SUCCESS;
  }

  error_code ReadScalar(ondemand::value& v, ondemand::json_type type, Value& out) {
    switch (type) {
      case ondemand::json_type::string: {
        std::string_view text;
        SIMDJSON_TRY(ReadJsonString(v, text, arena_));
        out = Value::Varchar(text);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::number:
        return ReadJsonNumber(v, out);
      case ondemand::json_type::boolean: {
        bool b;
        SIMDJSON_TRY(v.get_bool().get(b));
        out = Value::Boolean(b);
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        SIMDJSON_TRY(v.is_null().get(is_null));
        out = Value();
        return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
      }
      default:
        return simdjson::INCORRECT_TYPE;
    }
  }

  std::vector<TrieNode> nodes_;
  std::vector<uint8_t> seen_;  // per node: its key was met in the object being read
  std::vector<Pending> pending_;
  Value* values_ = nullptr;
  std::string_view record_;
  Arena arena_;  // unescaped strings
  ondemand::parser parser_;
  ondemand::parser nested_parser_;
};

EventFieldExtractor::EventFieldExtractor(const FieldSet& fields)
    : impl_(std::make_unique<Impl>(fields)), values_(fields.size()) {}

EventFieldExtractor::~EventFieldExtractor() = default;

Status EventFieldExtractor::Extract(std::string_view record) {
  return impl_->Extract(record, values_);
}

}  // namespace sluice::sql
