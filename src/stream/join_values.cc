#include "stream/join_values.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "base/fixed_bytes.h"

namespace sluice::stream {
namespace {

using sql::Type;
using sql::Value;

bool IsText(Type t) {
  return t == Type::kVarchar || t == Type::kJson;
}

}  // namespace

bool AppendJoinKey(std::string& out, const Value& v) {
  switch (v.type) {
    case Type::kNull:
    case Type::kAny:
      return false;
    case Type::kBoolean:
      out += 'b';
      out += v.boolean ? '\1' : '\0';
      return true;
    case Type::kDouble: {
      const double d = v.real;
      // An integral double joins the BIGINT of the same value (1.0 = 1).
      if (d >= -9.2e18 && d <= 9.2e18 && d == std::floor(d)) {
        out += 'i';
        AppendU64(out, static_cast<uint64_t>(static_cast<int64_t>(d)));
        return true;
      }
      double n = d;
      if (n != n) n = std::numeric_limits<double>::quiet_NaN();
      uint64_t bits;
      std::memcpy(&bits, &n, 8);
      out += 'd';
      AppendU64(out, bits);
      return true;
    }
    case Type::kBigint:
      out += 'i';
      AppendU64(out, static_cast<uint64_t>(v.integer));
      return true;
    case Type::kTimestamp:
    case Type::kDate:
    case Type::kInterval:
      out += static_cast<char>('0' + static_cast<int>(v.type));
      AppendU64(out, static_cast<uint64_t>(v.integer));
      return true;
    case Type::kVarchar:
    case Type::kJson:
      out += v.type == Type::kVarchar ? 's' : 'j';
      AppendU32(out, v.size);
      out.append(v.text, v.size);
      return true;
  }
  return false;
}

void OwnedValues::Assign(std::span<const Value> values) {
  size_t text_bytes = 0;
  for (const Value& v : values)
    if (IsText(v.type)) text_bytes += v.size + sql::kJsonPadding;
  values_.assign(values.begin(), values.end());
  text_.reset(text_bytes == 0 ? nullptr : new char[text_bytes]);
  char* p = text_.get();
  for (Value& v : values_) {
    if (!IsText(v.type)) continue;
    if (v.size != 0) std::memcpy(p, v.text, v.size);
    std::memset(p + v.size, 0, sql::kJsonPadding);
    v.text = p;
    p += v.size + sql::kJsonPadding;
  }
}

void EncodeValues(std::string& out, std::span<const Value> values) {
  AppendU32(out, static_cast<uint32_t>(values.size()));
  for (const Value& v : values) {
    out += static_cast<char>(v.type);
    switch (v.type) {
      case Type::kNull:
      case Type::kAny:
        break;
      case Type::kBoolean:
        out += v.boolean ? '\1' : '\0';
        break;
      case Type::kDouble: {
        uint64_t bits;
        std::memcpy(&bits, &v.real, 8);
        AppendU64(out, bits);
        break;
      }
      case Type::kBigint:
      case Type::kTimestamp:
      case Type::kDate:
      case Type::kInterval:
        AppendU64(out, static_cast<uint64_t>(v.integer));
        break;
      case Type::kVarchar:
      case Type::kJson:
        AppendU32(out, v.size);
        out.append(v.text, v.size);
        break;
    }
  }
}

bool DecodeValues(std::string_view in, OwnedValues& out) {
  uint32_t n = 0;
  if (!ConsumeU32(in, n) || n > in.size()) return false;
  std::vector<Value> values(n);
  for (Value& v : values) {
    if (in.empty()) return false;
    const auto type = static_cast<Type>(static_cast<uint8_t>(in[0]));
    in.remove_prefix(1);
    uint64_t u = 0;
    switch (type) {
      case Type::kNull:
        v = Value();
        break;
      case Type::kBoolean:
        if (in.empty()) return false;
        v = Value::Boolean(in[0] != 0);
        in.remove_prefix(1);
        break;
      case Type::kDouble: {
        if (!ConsumeU64(in, u)) return false;
        double d;
        std::memcpy(&d, &u, 8);
        v = Value::Double(d);
        break;
      }
      case Type::kBigint:
      case Type::kTimestamp:
      case Type::kDate:
      case Type::kInterval:
        if (!ConsumeU64(in, u)) return false;
        v = Value::Bigint(static_cast<int64_t>(u));
        v.type = type;
        break;
      case Type::kVarchar:
      case Type::kJson: {
        uint32_t size = 0;
        if (!ConsumeU32(in, size) || size > in.size()) return false;
        const std::string_view text = in.substr(0, size);
        v = type == Type::kVarchar ? Value::Varchar(text) : Value::Json(text);
        in.remove_prefix(size);
        break;
      }
      default:
        return false;
    }
  }
  if (!in.empty()) return false;
  out.Assign(values);  // copies the text out of `in`
  return true;
}

}  // namespace sluice::stream
