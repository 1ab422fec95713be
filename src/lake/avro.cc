#include "lake/avro.h"

#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

namespace sluice::lake::avro {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kMagic("Obj\x01", 4);
constexpr size_t kSyncSize = 16;

struct SchemaParser {
  std::map<std::string, SchemaPtr> named;

  Result<SchemaPtr> Parse(const Json& j, int depth) {
    if (depth > kMaxAvroDepth) {
      return Status::InvalidArgument("avro schema nests deeper than " +
                                     std::to_string(kMaxAvroDepth));
    }
    if (j.is_string()) return Primitive(j.get<std::string>());
    if (j.is_array()) {
      auto node = std::make_shared<Schema>();
      node->type = Type::kUnion;
      if (j.empty()) return Status::InvalidArgument("avro union without branches");
      for (const Json& b : j) {
        SLUICE_ASSIGN_OR_RETURN(SchemaPtr branch, Parse(b, depth + 1));
        if (branch->type == Type::kUnion) {
          return Status::InvalidArgument("avro union directly inside a union");
        }
        node->branches.push_back(std::move(branch));
      }
      return SchemaPtr(std::move(node));
    }
    if (!j.is_object())
      return Status::InvalidArgument("avro schema node is not a string/array/object");
    auto type_it = j.find("type");
    if (type_it == j.end()) return Status::InvalidArgument("avro schema object without \"type\"");
    if (!type_it->is_string()) return Parse(*type_it, depth + 1);
    const std::string type = type_it->get<std::string>();
    if (type == "record") {
      auto node = std::make_shared<Schema>();
      node->type = Type::kRecord;
      auto name = j.find("name");
      if (name == j.end() || !name->is_string()) {
        return Status::InvalidArgument("avro record without a name");
      }
      node->name = name->get<std::string>();
      auto fields = j.find("fields");
      if (fields == j.end() || !fields->is_array()) {
        return Status::InvalidArgument("avro record '" + node->name + "' without fields");
      }
      for (const Json& f : *fields) {
        if (!f.is_object() || !f.contains("name") || !f["name"].is_string() ||
            !f.contains("type")) {
          return Status::InvalidArgument("avro record '" + node->name +
                                         "' has a field without name or type");
        }
        SLUICE_ASSIGN_OR_RETURN(SchemaPtr fs, Parse(f["type"], depth + 1));
        node->fields.push_back({f["name"].get<std::string>(), std::move(fs)});
      }
      named[node->name] = node;
      return SchemaPtr(std::move(node));
    }
    if (type == "array" || type == "map") {
      auto node = std::make_shared<Schema>();
      node->type = type == "array" ? Type::kArray : Type::kMap;
      auto items = j.find(type == "array" ? "items" : "values");
      if (items == j.end()) return Status::InvalidArgument("avro " + type + " without item type");
      SLUICE_ASSIGN_OR_RETURN(node->items, Parse(*items, depth + 1));
      return SchemaPtr(std::move(node));
    }
    return Primitive(type);
  }

  Result<SchemaPtr> Primitive(const std::string& name) {
    static const std::pair<const char*, Type> kPrimitives[] = {
        {"null", Type::kNull},   {"boolean", Type::kBoolean}, {"int", Type::kInt},
        {"long", Type::kLong},   {"float", Type::kFloat},     {"double", Type::kDouble},
        {"bytes", Type::kBytes}, {"string", Type::kString},
    };
    for (const auto& [n, t] : kPrimitives) {
      if (name == n) {
        auto node = std::make_shared<Schema>();
        node->type = t;
        return SchemaPtr(std::move(node));
      }
    }
    auto it = named.find(name);
    if (it != named.end()) return it->second;
    return Status::InvalidArgument("unsupported or unknown avro type '" + name + "'");
  }
};

void AppendZigZag(std::string& out, uint64_t z) {
  while (z >= 0x80) {
    out.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

void AppendBytes(std::string& out, std::string_view b) {
  AppendVarLong(out, static_cast<int64_t>(b.size()));
  out.append(b);
}

bool Matches(const Schema& s, const Value& v) {
  if (s.type == v.type) return true;
  // An int fits a long slot; a double literal may be given for a float slot.
  return (s.type == Type::kLong && v.type == Type::kInt) ||
         (s.type == Type::kFloat && v.type == Type::kDouble);
}

Status Encode(const Schema& s, const Value& v, std::string& out, const std::string& path) {
  if (s.type == Type::kUnion) {
    // The value's own branch first (values read from a file keep it), then the first branch
    // of a matching type that encodes it.
    const size_t mark = out.size();
    for (size_t k = 0; k <= s.branches.size(); ++k) {
      size_t b = k == 0 ? v.branch : k - 1;
      if (b >= s.branches.size() || !Matches(*s.branches[b], v)) continue;
      AppendVarLong(out, static_cast<int64_t>(b));
      if (Encode(*s.branches[b], v, out, path).ok()) return Status::Ok();
      out.resize(mark);
    }
    return Status::InvalidArgument("avro value at " + path + " matches no union branch");
  }
  if (!Matches(s, v))
    return Status::InvalidArgument("avro value at " + path + " has the wrong type");
  switch (s.type) {
    case Type::kNull:
      return Status::Ok();
    case Type::kBoolean:
      out.push_back(v.b ? 1 : 0);
      return Status::Ok();
    case Type::kInt:
      if (v.i < INT32_MIN || v.i > INT32_MAX) {
        return Status::InvalidArgument("avro int at " + path + " out of range");
      }
      AppendVarLong(out, v.i);
      return Status::Ok();
    case Type::kLong:
      AppendVarLong(out, v.i);
      return Status::Ok();
    case Type::kFloat: {
      float f = static_cast<float>(v.d);
      char b[4];
      std::memcpy(b, &f, 4);  // little-endian host (x86-64, aarch64)
      out.append(b, 4);
      return Status::Ok();
    }
    case Type::kDouble: {
      char b[8];
      std::memcpy(b, &v.d, 8);
      out.append(b, 8);
      return Status::Ok();
    }
    case Type::kBytes:
    case Type::kString:
      AppendBytes(out, v.s);
      return Status::Ok();
    case Type::kRecord:
      if (v.items.size() != s.fields.size()) {
        return Status::InvalidArgument("avro record at " + path + " has " +
                                       std::to_string(v.items.size()) + " fields, schema " +
                                       std::to_string(s.fields.size()));
      }
      for (size_t f = 0; f < s.fields.size(); ++f) {
        SLUICE_RETURN_IF_ERROR(
            Encode(*s.fields[f].schema, v.items[f], out, path + "." + s.fields[f].name));
      }
      return Status::Ok();
    case Type::kArray:
      if (!v.items.empty()) {
        AppendVarLong(out, static_cast<int64_t>(v.items.size()));
        for (size_t k = 0; k < v.items.size(); ++k) {
          SLUICE_RETURN_IF_ERROR(
              Encode(*s.items, v.items[k], out, path + "[" + std::to_string(k) + "]"));
        }
      }
      AppendVarLong(out, 0);
      return Status::Ok();
    case Type::kMap:
      if (v.keys.size() != v.items.size()) {
        return Status::InvalidArgument("avro map at " + path + " has keys and values unpaired");
      }
      if (!v.items.empty()) {
        AppendVarLong(out, static_cast<int64_t>(v.items.size()));
        for (size_t k = 0; k < v.items.size(); ++k) {
          AppendBytes(out, v.keys[k]);
          SLUICE_RETURN_IF_ERROR(Encode(*s.items, v.items[k], out, path + "{" + v.keys[k] + "}"));
        }
      }
      AppendVarLong(out, 0);
      return Status::Ok();
    case Type::kUnion:
      break;
  }
  return Status::Internal("unreachable avro type");
}

class Decoder {
 public:
  Decoder(std::string_view data, size_t* budget) : data_(data), budget_(budget) {}

  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }

  Status ReadLong(int64_t& v) {
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Status::Corruption("avro varint runs past the end");
      uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      z |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        v = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
        return Status::Ok();
      }
    }
    return Status::Corruption("avro varint longer than 10 bytes");
  }

  Status ReadRaw(size_t n, std::string_view& out) {
    if (n > data_.size() - pos_) return Status::Corruption("avro length runs past the end");
    out = data_.substr(pos_, n);
    pos_ += n;
    return Status::Ok();
  }

  Status ReadString(std::string& out) {
    int64_t n = 0;
    SLUICE_RETURN_IF_ERROR(ReadLong(n));
    if (n < 0) return Status::Corruption("avro negative string length");
    std::string_view raw;
    SLUICE_RETURN_IF_ERROR(ReadRaw(static_cast<size_t>(n), raw));
    out.assign(raw);
    return Status::Ok();
  }

  // Reads a block count of an array or map; a negative count is followed by a byte size.
  Status ReadBlockCount(int64_t& count) {
    SLUICE_RETURN_IF_ERROR(ReadLong(count));
    if (count < 0) {
      if (count == INT64_MIN) return Status::Corruption("avro block count out of range");
      count = -count;
      int64_t bytes = 0;
      SLUICE_RETURN_IF_ERROR(ReadLong(bytes));
      if (bytes < 0) return Status::Corruption("avro negative block size");
    }
    return Status::Ok();
  }

  Status Spend() {
    if (*budget_ == 0) return Status::ResourceExhausted("avro file decodes to too many values");
    --*budget_;
    return Status::Ok();
  }

  Status Decode(const Schema& s, Value& v, int depth) {
    if (depth > kMaxAvroDepth) return Status::Corruption("avro value nests too deep");
    SLUICE_RETURN_IF_ERROR(Spend());
    v.type = s.type;
    switch (s.type) {
      case Type::kNull:
        return Status::Ok();
      case Type::kBoolean: {
        std::string_view b;
        SLUICE_RETURN_IF_ERROR(ReadRaw(1, b));
        if (b[0] != 0 && b[0] != 1) return Status::Corruption("avro boolean not 0 or 1");
        v.b = b[0] == 1;
        return Status::Ok();
      }
      case Type::kInt:
        SLUICE_RETURN_IF_ERROR(ReadLong(v.i));
        if (v.i < INT32_MIN || v.i > INT32_MAX) return Status::Corruption("avro int out of range");
        return Status::Ok();
      case Type::kLong:
        return ReadLong(v.i);
      case Type::kFloat: {
        std::string_view b;
        SLUICE_RETURN_IF_ERROR(ReadRaw(4, b));
        float f;
        std::memcpy(&f, b.data(), 4);
        v.d = f;
        return Status::Ok();
      }
      case Type::kDouble: {
        std::string_view b;
        SLUICE_RETURN_IF_ERROR(ReadRaw(8, b));
        std::memcpy(&v.d, b.data(), 8);
        return Status::Ok();
      }
      case Type::kBytes:
      case Type::kString:
        return ReadString(v.s);
      case Type::kRecord:
        v.items.resize(s.fields.size());
        for (size_t f = 0; f < s.fields.size(); ++f) {
          SLUICE_RETURN_IF_ERROR(Decode(*s.fields[f].schema, v.items[f], depth + 1));
        }
        return Status::Ok();
      case Type::kArray:
      case Type::kMap:
        for (;;) {
          int64_t count = 0;
          SLUICE_RETURN_IF_ERROR(ReadBlockCount(count));
          if (count == 0) return Status::Ok();
          if (static_cast<uint64_t>(count) > *budget_) {
            return Status::ResourceExhausted("avro block count exceeds the value budget");
          }
          for (int64_t k = 0; k < count; ++k) {
            if (s.type == Type::kMap) {
              v.keys.emplace_back();
              SLUICE_RETURN_IF_ERROR(ReadString(v.keys.back()));
            }
            v.items.emplace_back();
            SLUICE_RETURN_IF_ERROR(Decode(*s.items, v.items.back(), depth + 1));
          }
        }
      case Type::kUnion: {
        int64_t b = 0;
        SLUICE_RETURN_IF_ERROR(ReadLong(b));
        if (b < 0 || static_cast<size_t>(b) >= s.branches.size()) {
          return Status::Corruption("avro union branch " + std::to_string(b) + " out of range");
        }
        SLUICE_RETURN_IF_ERROR(Decode(*s.branches[b], v, depth + 1));
        v.branch = static_cast<uint32_t>(b);
        return Status::Ok();
      }
    }
    return Status::Corruption("unreachable avro type");
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  size_t* budget_;
};

}  // namespace

void AppendVarLong(std::string& out, int64_t v) {
  AppendZigZag(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

Result<SchemaPtr> ParseSchema(std::string_view json) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("avro schema is not valid JSON");
  SchemaParser parser;
  return parser.Parse(j, 0);
}

int FieldIndex(const Schema& record, std::string_view name) {
  for (size_t i = 0; i < record.fields.size(); ++i) {
    if (record.fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Result<std::unique_ptr<AvroWriter>> AvroWriter::Create(
    std::string_view schema_json, std::vector<std::pair<std::string, std::string>> metadata,
    size_t records_per_block) {
  Json j = Json::parse(schema_json, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument("avro schema is not valid JSON");
  SchemaParser parser;
  SLUICE_ASSIGN_OR_RETURN(SchemaPtr schema, parser.Parse(j, 0));
  if (schema->type != Type::kRecord) {
    return Status::InvalidArgument("an avro container's schema must be a record");
  }
  std::unique_ptr<AvroWriter> w(new AvroWriter());
  w->schema_ = std::move(schema);
  w->records_per_block_ = records_per_block == 0 ? 1 : records_per_block;
  std::random_device rd;
  for (size_t i = 0; i < kSyncSize; ++i) w->sync_.push_back(static_cast<char>(rd() & 0xff));
  w->out_.append(kMagic);
  AppendVarLong(w->out_, static_cast<int64_t>(metadata.size() + 2));
  AppendBytes(w->out_, "avro.schema");
  AppendBytes(w->out_, j.dump());
  AppendBytes(w->out_, "avro.codec");
  AppendBytes(w->out_, "null");
  for (const auto& [k, v] : metadata) {
    AppendBytes(w->out_, k);
    AppendBytes(w->out_, v);
  }
  AppendVarLong(w->out_, 0);
  w->out_.append(w->sync_);
  return w;
}

Status AvroWriter::Append(const Value& record) {
  size_t mark = block_.size();
  Status st = Encode(*schema_, record, block_, schema_->name);
  if (!st.ok()) {
    block_.resize(mark);
    return st;
  }
  ++records_;
  if (++block_records_ >= records_per_block_) FlushBlock();
  return Status::Ok();
}

void AvroWriter::FlushBlock() {
  if (block_records_ == 0) return;
  AppendVarLong(out_, static_cast<int64_t>(block_records_));
  AppendVarLong(out_, static_cast<int64_t>(block_.size()));
  out_.append(block_);
  out_.append(sync_);
  block_.clear();
  block_records_ = 0;
}

std::string AvroWriter::Finish() {
  FlushBlock();
  return std::move(out_);
}

Result<AvroFile> ReadAvroContainer(std::string_view bytes, size_t max_values) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    return Status::Corruption("not an avro container file (bad magic)");
  }
  size_t budget = max_values;
  Decoder header(bytes.substr(kMagic.size()), &budget);
  AvroFile file;
  std::string codec = "null";
  bool have_schema = false;
  for (;;) {
    int64_t count = 0;
    SLUICE_RETURN_IF_ERROR(header.ReadBlockCount(count));
    if (count == 0) break;
    for (int64_t k = 0; k < count; ++k) {
      SLUICE_RETURN_IF_ERROR(header.Spend());
      std::string key, value;
      SLUICE_RETURN_IF_ERROR(header.ReadString(key));
      SLUICE_RETURN_IF_ERROR(header.ReadString(value));
      if (key == "avro.schema") {
        file.schema_json = std::move(value);
        have_schema = true;
      } else if (key == "avro.codec") {
        codec = std::move(value);
      } else {
        file.metadata[std::move(key)] = std::move(value);
      }
    }
  }
  if (!have_schema) return Status::Corruption("avro header has no avro.schema");
  if (codec != "null") return Status::InvalidArgument("unsupported avro codec '" + codec + "'");
  auto schema = ParseSchema(file.schema_json);
  if (!schema.ok()) return Status::Corruption("avro header schema: " + schema.status().message());
  file.schema = std::move(schema).value();
  std::string_view sync;
  SLUICE_RETURN_IF_ERROR(header.ReadRaw(kSyncSize, sync));

  Decoder blocks(bytes.substr(kMagic.size() + header.pos()), &budget);
  while (!blocks.done()) {
    int64_t count = 0, size = 0;
    SLUICE_RETURN_IF_ERROR(blocks.ReadLong(count));
    SLUICE_RETURN_IF_ERROR(blocks.ReadLong(size));
    if (count < 0 || size < 0) return Status::Corruption("avro block with a negative count/size");
    if (static_cast<uint64_t>(count) > budget) {
      return Status::ResourceExhausted("avro block count exceeds the value budget");
    }
    std::string_view data;
    SLUICE_RETURN_IF_ERROR(blocks.ReadRaw(static_cast<size_t>(size), data));
    std::string_view marker;
    SLUICE_RETURN_IF_ERROR(blocks.ReadRaw(kSyncSize, marker));
    if (marker != sync) return Status::Corruption("avro block sync marker mismatch");
    Decoder records(data, &budget);
    for (int64_t r = 0; r < count; ++r) {
      file.records.emplace_back();
      SLUICE_RETURN_IF_ERROR(records.Decode(*file.schema, file.records.back(), 0));
    }
    if (!records.done()) return Status::Corruption("avro block has bytes after its records");
  }
  return file;
}

}  // namespace sluice::lake::avro
