#include "lake/thrift_compact.h"

#include <fmt/format.h>

namespace sluice::lake {

void CompactWriter::WriteVarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void CompactWriter::FieldHeader(int16_t id, ThriftType type) {
  int delta = id - last_id_;
  if (delta > 0 && delta <= 15) {
    out_.push_back(static_cast<char>((delta << 4) | static_cast<int>(type)));
  } else {
    out_.push_back(static_cast<char>(type));
    WriteVarint(ZigZag(id));
  }
  last_id_ = id;
}

void CompactWriter::FieldBool(int16_t id, bool value) {
  FieldHeader(id, value ? ThriftType::kBoolTrue : ThriftType::kBoolFalse);
}

void CompactWriter::FieldI16(int16_t id, int16_t value) {
  FieldHeader(id, ThriftType::kI16);
  WriteVarint(ZigZag(value));
}

void CompactWriter::FieldI32(int16_t id, int32_t value) {
  FieldHeader(id, ThriftType::kI32);
  WriteVarint(ZigZag(value));
}

void CompactWriter::FieldI64(int16_t id, int64_t value) {
  FieldHeader(id, ThriftType::kI64);
  WriteVarint(ZigZag(value));
}

void CompactWriter::FieldBinary(int16_t id, std::string_view value) {
  FieldHeader(id, ThriftType::kBinary);
  ListBinary(value);
}

void CompactWriter::ListBinary(std::string_view value) {
  WriteVarint(value.size());
  out_.append(value);
}

void CompactWriter::FieldStructBegin(int16_t id) {
  FieldHeader(id, ThriftType::kStruct);
  ListStructBegin();
}

void CompactWriter::ListStructBegin() {
  stack_.push_back(last_id_);
  last_id_ = 0;
}

void CompactWriter::StructEnd() {
  out_.push_back(static_cast<char>(ThriftType::kStop));
  last_id_ = stack_.empty() ? 0 : stack_.back();
  if (!stack_.empty()) stack_.pop_back();
}

void CompactWriter::FieldListBegin(int16_t id, ThriftType element_type, uint32_t size) {
  FieldHeader(id, ThriftType::kList);
  if (size < 15) {
    out_.push_back(static_cast<char>((size << 4) | static_cast<uint32_t>(element_type)));
  } else {
    out_.push_back(static_cast<char>(0xF0 | static_cast<int>(element_type)));
    WriteVarint(size);
  }
}

Status CompactReader::Error(std::string_view what) const {
  return Status::Corruption(fmt::format("thrift: {} at byte {}", what, pos_));
}

Status CompactReader::ReadVarint(uint64_t& v, int max_bytes) {
  v = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (pos_ >= data_.size()) return Error("truncated varint");
    auto byte = static_cast<uint8_t>(data_[pos_++]);
    v |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) return Status::Ok();
  }
  return Error("varint too long");
}

Status CompactReader::ReadZigZag(int64_t& v, int max_bytes) {
  uint64_t u = 0;
  SLUICE_RETURN_IF_ERROR(ReadVarint(u, max_bytes));
  v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return Status::Ok();
}

Status CompactReader::StructBegin() {
  if (static_cast<int>(stack_.size()) >= max_depth_) return Error("structs nested too deeply");
  stack_.push_back(last_id_);
  last_id_ = 0;
  return Status::Ok();
}

Status CompactReader::NextField(int16_t& id, ThriftType& type) {
  if (stack_.empty()) return Error("field read outside a struct");
  if (pos_ >= data_.size()) return Error("truncated struct");
  auto byte = static_cast<uint8_t>(data_[pos_++]);
  type = static_cast<ThriftType>(byte & 0x0F);
  if (type == ThriftType::kStop) {
    if (byte != 0) return Error("bad stop byte");
    id = 0;
    last_id_ = stack_.back();
    stack_.pop_back();
    return Status::Ok();
  }
  if (static_cast<uint8_t>(type) > static_cast<uint8_t>(ThriftType::kStruct))
    return Error(fmt::format("unknown field type {}", byte & 0x0F));
  int delta = byte >> 4;
  if (delta != 0) {
    int next = last_id_ + delta;
    if (next > INT16_MAX) return Error("field id overflows");
    id = static_cast<int16_t>(next);
  } else {
    int64_t v = 0;
    SLUICE_RETURN_IF_ERROR(ReadZigZag(v, 3));
    if (v < INT16_MIN || v > INT16_MAX) return Error("field id out of range");
    id = static_cast<int16_t>(v);
  }
  last_id_ = id;
  return Status::Ok();
}

Status CompactReader::ReadBool(ThriftType type, bool& value) {
  if (type == ThriftType::kBoolTrue) {
    value = true;
  } else if (type == ThriftType::kBoolFalse) {
    value = false;
  } else {
    return Error("expected a bool");
  }
  return Status::Ok();
}

Status CompactReader::ReadI32(ThriftType type, int32_t& value) {
  if (type != ThriftType::kI32 && type != ThriftType::kI16 && type != ThriftType::kByte)
    return Error("expected an i32");
  int64_t v = 0;
  if (type == ThriftType::kByte) {
    if (pos_ >= data_.size()) return Error("truncated byte");
    value = static_cast<int8_t>(data_[pos_++]);
    return Status::Ok();
  }
  SLUICE_RETURN_IF_ERROR(ReadZigZag(v, 5));
  if (v < INT32_MIN || v > INT32_MAX) return Error("i32 out of range");
  value = static_cast<int32_t>(v);
  return Status::Ok();
}

Status CompactReader::ReadI64(ThriftType type, int64_t& value) {
  if (type == ThriftType::kI64) return ReadZigZag(value, 10);
  int32_t v = 0;
  SLUICE_RETURN_IF_ERROR(ReadI32(type, v));
  value = v;
  return Status::Ok();
}

Status CompactReader::ReadBinary(ThriftType type, std::string_view& value) {
  if (type != ThriftType::kBinary) return Error("expected a binary");
  uint64_t size = 0;
  SLUICE_RETURN_IF_ERROR(ReadVarint(size, 5));
  if (size > data_.size() - pos_) return Error("binary longer than the input");
  value = data_.substr(pos_, size);
  pos_ += size;
  return Status::Ok();
}

Status CompactReader::ReadListHeader(ThriftType type, ThriftType& element_type, uint32_t& size) {
  if (type != ThriftType::kList && type != ThriftType::kSet) return Error("expected a list");
  if (pos_ >= data_.size()) return Error("truncated list header");
  auto byte = static_cast<uint8_t>(data_[pos_++]);
  element_type = static_cast<ThriftType>(byte & 0x0F);
  if (element_type == ThriftType::kStop ||
      static_cast<uint8_t>(element_type) > static_cast<uint8_t>(ThriftType::kStruct))
    return Error("bad list element type");
  uint64_t n = byte >> 4;
  if (n == 15) SLUICE_RETURN_IF_ERROR(ReadVarint(n, 5));
  if (n > data_.size() - pos_) return Error("list longer than the input");
  size = static_cast<uint32_t>(n);
  return Status::Ok();
}

Status CompactReader::Skip(ThriftType type) {
  return SkipDepth(type, 0);
}

Status CompactReader::SkipDepth(ThriftType type, int depth) {
  if (depth > max_depth_) return Error("values nested too deeply");
  switch (type) {
    case ThriftType::kBoolTrue:
    case ThriftType::kBoolFalse:
      return Status::Ok();  // a field's bool lives in its header
    case ThriftType::kByte:
      if (pos_ >= data_.size()) return Error("truncated byte");
      ++pos_;
      return Status::Ok();
    case ThriftType::kI16:
    case ThriftType::kI32:
    case ThriftType::kI64: {
      int64_t v = 0;
      return ReadZigZag(v, 10);
    }
    case ThriftType::kDouble:
      if (data_.size() - pos_ < 8) return Error("truncated double");
      pos_ += 8;
      return Status::Ok();
    case ThriftType::kBinary: {
      std::string_view v;
      return ReadBinary(type, v);
    }
    case ThriftType::kList:
    case ThriftType::kSet: {
      ThriftType element;
      uint32_t n = 0;
      SLUICE_RETURN_IF_ERROR(ReadListHeader(type, element, n));
      if (element == ThriftType::kBoolTrue || element == ThriftType::kBoolFalse) {
        pos_ += n;  // one byte per bool in a list; n <= bytes left was checked
        return Status::Ok();
      }
      for (uint32_t i = 0; i < n; ++i) SLUICE_RETURN_IF_ERROR(SkipDepth(element, depth + 1));
      return Status::Ok();
    }
    case ThriftType::kMap: {
      uint64_t n = 0;
      SLUICE_RETURN_IF_ERROR(ReadVarint(n, 5));
      if (n == 0) return Status::Ok();
      if (n > data_.size() - pos_) return Error("map longer than the input");
      if (pos_ >= data_.size()) return Error("truncated map header");
      auto kinds = static_cast<uint8_t>(data_[pos_++]);
      auto key = static_cast<ThriftType>(kinds >> 4);
      auto value = static_cast<ThriftType>(kinds & 0x0F);
      for (ThriftType t : {key, value}) {
        if (t == ThriftType::kStop || static_cast<uint8_t>(t) > 12) return Error("bad map type");
      }
      for (uint64_t i = 0; i < n; ++i) {
        for (ThriftType t : {key, value}) {
          if (t == ThriftType::kBoolTrue || t == ThriftType::kBoolFalse) {
            if (pos_ >= data_.size()) return Error("truncated map");
            ++pos_;
          } else {
            SLUICE_RETURN_IF_ERROR(SkipDepth(t, depth + 1));
          }
        }
      }
      return Status::Ok();
    }
    case ThriftType::kStruct: {
      SLUICE_RETURN_IF_ERROR(StructBegin());
      for (;;) {
        int16_t id;
        ThriftType field;
        SLUICE_RETURN_IF_ERROR(NextField(id, field));
        if (field == ThriftType::kStop) return Status::Ok();
        SLUICE_RETURN_IF_ERROR(SkipDepth(field, depth + 1));
      }
    }
    case ThriftType::kStop:
      break;
  }
  return Error("cannot skip this type");
}

}  // namespace sluice::lake
