#include "lake/parquet_reader.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/fixed_bytes.h"
#include "lake/thrift_compact.h"

namespace sluice::lake {
namespace {

Status Corrupt(std::string_view what) {
  return Status::Corruption(fmt::format("parquet: {}", what));
}

// Loops over the fields of a struct, calling `on_field(id, type)` for each; the callback
// reads or skips the value.
template <typename OnField>
Status ForEachField(CompactReader& r, OnField on_field) {
  SLUICE_RETURN_IF_ERROR(r.StructBegin());
  for (;;) {
    int16_t id = 0;
    ThriftType type = ThriftType::kStop;
    SLUICE_RETURN_IF_ERROR(r.NextField(id, type));
    if (type == ThriftType::kStop) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(on_field(id, type));
  }
}

Status ReadString(CompactReader& r, ThriftType type, std::string& out) {
  std::string_view v;
  SLUICE_RETURN_IF_ERROR(r.ReadBinary(type, v));
  out.assign(v);
  return Status::Ok();
}

Status ReadStatistics(CompactReader& r, ColumnStatistics& s) {
  std::optional<std::string> legacy_min, legacy_max;
  SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    std::string v;
    switch (id) {
      case 1:
        SLUICE_RETURN_IF_ERROR(ReadString(r, t, v));
        legacy_max = std::move(v);
        return Status::Ok();
      case 2:
        SLUICE_RETURN_IF_ERROR(ReadString(r, t, v));
        legacy_min = std::move(v);
        return Status::Ok();
      case 3: {
        int64_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadI64(t, n));
        if (n < 0) return Corrupt("negative null_count");
        s.null_count = n;
        return Status::Ok();
      }
      case 5:
        SLUICE_RETURN_IF_ERROR(ReadString(r, t, v));
        s.max = std::move(v);
        return Status::Ok();
      case 6:
        SLUICE_RETURN_IF_ERROR(ReadString(r, t, v));
        s.min = std::move(v);
        return Status::Ok();
      case 7:
        return r.ReadBool(t, s.max_exact);
      case 8:
        return r.ReadBool(t, s.min_exact);
      default:
        return r.Skip(t);
    }
  }));
  // The deprecated min/max are kept only when the new fields are absent; the caller drops
  // them for string columns (their order was signed bytewise).
  if (!s.min && !s.max && legacy_min && legacy_max) {
    s.min = std::move(legacy_min);
    s.max = std::move(legacy_max);
    s.from_deprecated_fields = true;
  }
  return Status::Ok();
}

struct SchemaElement {
  std::optional<int32_t> type, repetition, num_children, converted, scale, precision;
  int32_t field_id = 0;
  std::string name;
  // From logicalType.
  bool logical_string = false, logical_decimal = false, logical_timestamp = false;
  bool timestamp_micros = false;
  int32_t logical_scale = 0, logical_precision = 0;
};

Status ReadLogicalType(CompactReader& r, SchemaElement& e) {
  return ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    if (t != ThriftType::kStruct) return r.Skip(t);
    switch (id) {
      case 1:
        e.logical_string = true;
        return r.Skip(t);
      case 5:
        e.logical_decimal = true;
        return ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
          if (f == 1) return r.ReadI32(ft, e.logical_scale);
          if (f == 2) return r.ReadI32(ft, e.logical_precision);
          return r.Skip(ft);
        });
      case 8:
        e.logical_timestamp = true;
        return ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
          if (f != 2 || ft != ThriftType::kStruct) return r.Skip(ft);
          return ForEachField(r, [&](int16_t unit, ThriftType ut) -> Status {
            if (unit == 2) e.timestamp_micros = true;
            return r.Skip(ut);
          });
        });
      default:
        return r.Skip(t);
    }
  });
}

Status ReadSchemaElement(CompactReader& r, SchemaElement& e) {
  return ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    int32_t v = 0;
    switch (id) {
      case 1:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.type = v;
        return Status::Ok();
      case 3:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.repetition = v;
        return Status::Ok();
      case 4:
        return ReadString(r, t, e.name);
      case 5:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.num_children = v;
        return Status::Ok();
      case 6:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.converted = v;
        return Status::Ok();
      case 7:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.scale = v;
        return Status::Ok();
      case 8:
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, v));
        e.precision = v;
        return Status::Ok();
      case 9:
        return r.ReadI32(t, e.field_id);
      case 10:
        if (t != ThriftType::kStruct) return r.Skip(t);
        return ReadLogicalType(r, e);
      default:
        return r.Skip(t);
    }
  });
}

// The lake column a flat schema leaf maps to.
Result<ColumnSpec> ColumnOf(const SchemaElement& e) {
  ColumnSpec spec;
  spec.name = e.name;
  spec.field_id = e.field_id;
  if (e.num_children && *e.num_children != 0)
    return Status::InvalidArgument(
        fmt::format("parquet: column '{}': nested columns are not supported", e.name));
  if (!e.type) return Corrupt(fmt::format("column '{}' has no type", e.name));
  int32_t rep = e.repetition.value_or(format::kRequired);
  if (rep != format::kRequired && rep != format::kOptional)
    return Status::InvalidArgument(
        fmt::format("parquet: column '{}': repeated columns are not supported", e.name));
  spec.optional = rep == format::kOptional;
  switch (*e.type) {
    case format::kByteArray:
      spec.type = ColumnType::kString;
      return spec;
    case format::kDouble:
      spec.type = ColumnType::kDouble;
      return spec;
    case format::kBoolean:
      spec.type = ColumnType::kBool;
      return spec;
    case format::kInt64:
      if (e.logical_decimal || e.converted == format::kDecimal) {
        spec.type = ColumnType::kDecimal;
        spec.precision = e.logical_decimal ? e.logical_precision : e.precision.value_or(0);
        spec.scale = e.logical_decimal ? e.logical_scale : e.scale.value_or(0);
        if (spec.precision < 1 || spec.precision > kMaxDecimalPrecision || spec.scale < 0 ||
            spec.scale > spec.precision)
          return Corrupt(fmt::format("column '{}': bad decimal precision/scale", e.name));
      } else if (e.logical_timestamp || e.converted == format::kTimestampMicros) {
        if (e.logical_timestamp && !e.timestamp_micros)
          return Status::InvalidArgument(fmt::format(
              "parquet: column '{}': only microsecond timestamps are supported", e.name));
        spec.type = ColumnType::kTimestampMicros;
      } else {
        spec.type = ColumnType::kInt64;
      }
      return spec;
    default:
      return Status::InvalidArgument(
          fmt::format("parquet: column '{}': physical type {} is not supported", e.name, *e.type));
  }
}

Status ReadColumnMetaData(CompactReader& r, ColumnChunkInfo& c, int32_t& physical_type) {
  bool has_type = false, has_codec = false, has_values = false, has_data_offset = false,
       has_size = false;
  SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    switch (id) {
      case 1:
        has_type = true;
        return r.ReadI32(t, physical_type);
      case 2: {
        ThriftType et;
        uint32_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadListHeader(t, et, n));
        for (uint32_t i = 0; i < n; ++i) {
          int32_t e = 0;
          SLUICE_RETURN_IF_ERROR(r.ReadI32(et, e));
          c.encodings.push_back(e);
        }
        return Status::Ok();
      }
      case 4: {
        has_codec = true;
        int32_t codec = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadI32(t, codec));
        switch (codec) {
          case format::kUncompressed:
            c.codec = Compression::kUncompressed;
            return Status::Ok();
          case format::kSnappy:
            c.codec = Compression::kSnappy;
            return Status::Ok();
          case format::kZstd:
            c.codec = Compression::kZstd;
            return Status::Ok();
          default:
            return Status::InvalidArgument(
                fmt::format("parquet: compression codec {} is not supported", codec));
        }
      }
      case 5:
        has_values = true;
        return r.ReadI64(t, c.num_values);
      case 6:
        return r.ReadI64(t, c.total_uncompressed_size);
      case 7:
        has_size = true;
        return r.ReadI64(t, c.total_compressed_size);
      case 9:
        has_data_offset = true;
        return r.ReadI64(t, c.data_page_offset);
      case 11:
        return r.ReadI64(t, c.dictionary_page_offset);
      case 12:
        if (t != ThriftType::kStruct) return r.Skip(t);
        return ReadStatistics(r, c.statistics);
      default:
        return r.Skip(t);
    }
  }));
  if (!has_type || !has_codec || !has_values || !has_data_offset || !has_size)
    return Corrupt("column metadata lacks a required field");
  return Status::Ok();
}

Status ReadRowGroup(CompactReader& r, RowGroupInfo& g, std::vector<int32_t>& physical_types) {
  bool has_rows = false;
  SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    switch (id) {
      case 1: {
        ThriftType et;
        uint32_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadListHeader(t, et, n));
        if (et != ThriftType::kStruct) return Corrupt("row group columns are not structs");
        for (uint32_t i = 0; i < n; ++i) {
          ColumnChunkInfo c;
          int32_t physical = -1;
          bool has_meta = false;
          SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
            if (f == 1)
              return Status::InvalidArgument(
                  "parquet: column chunks in other files are not supported");
            if (f == 3 && ft == ThriftType::kStruct) {
              has_meta = true;
              return ReadColumnMetaData(r, c, physical);
            }
            return r.Skip(ft);
          }));
          if (!has_meta) return Corrupt("column chunk without metadata");
          g.columns.push_back(std::move(c));
          physical_types.push_back(physical);
        }
        return Status::Ok();
      }
      case 2:
        return r.ReadI64(t, g.total_byte_size);
      case 3:
        has_rows = true;
        return r.ReadI64(t, g.num_rows);
      default:
        return r.Skip(t);
    }
  }));
  if (!has_rows || g.num_rows < 0) return Corrupt("row group without a valid num_rows");
  return Status::Ok();
}

// One parsed page header.
struct PageHeader {
  int32_t type = -1;
  int32_t uncompressed_size = -1, compressed_size = -1;
  int32_t num_values = -1;
  int32_t encoding = -1;
  int32_t def_encoding = format::kRle;
  // DATA_PAGE_V2 only.
  int32_t num_nulls = -1, num_rows = -1;
  int32_t def_levels_bytes = -1, rep_levels_bytes = -1;
  bool is_compressed = true;
};

Status ReadPageHeader(CompactReader& r, PageHeader& h) {
  return ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    switch (id) {
      case 1:
        return r.ReadI32(t, h.type);
      case 2:
        return r.ReadI32(t, h.uncompressed_size);
      case 3:
        return r.ReadI32(t, h.compressed_size);
      case 5:  // DataPageHeader
      case 7:  // DictionaryPageHeader
        if (t != ThriftType::kStruct) return r.Skip(t);
        return ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
          if (f == 1) return r.ReadI32(ft, h.num_values);
          if (f == 2) return r.ReadI32(ft, h.encoding);
          if (f == 3 && id == 5) return r.ReadI32(ft, h.def_encoding);
          return r.Skip(ft);
        });
      case 8:  // DataPageHeaderV2
        if (t != ThriftType::kStruct) return r.Skip(t);
        return ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
          switch (f) {
            case 1:
              return r.ReadI32(ft, h.num_values);
            case 2:
              return r.ReadI32(ft, h.num_nulls);
            case 3:
              return r.ReadI32(ft, h.num_rows);
            case 4:
              return r.ReadI32(ft, h.encoding);
            case 5:
              return r.ReadI32(ft, h.def_levels_bytes);
            case 6:
              return r.ReadI32(ft, h.rep_levels_bytes);
            case 7:
              return r.ReadBool(ft, h.is_compressed);
            default:
              return r.Skip(ft);
          }
        });
      default:
        return r.Skip(t);
    }
  });
}

// Decodes `count` PLAIN values of `type` from `in` into `out`, appending.
Status DecodePlain(std::string_view in, ColumnType type, size_t count, ColumnBuffer& out,
                   size_t* consumed) {
  size_t pos = 0;
  switch (type) {
    case ColumnType::kString:
      for (size_t i = 0; i < count; ++i) {
        if (in.size() - pos < 4) return Corrupt("truncated string length");
        uint32_t len = LoadU32(in.data() + pos);
        pos += 4;
        if (len > in.size() - pos) return Corrupt("string longer than its page");
        out.AppendString(in.substr(pos, len));
        pos += len;
      }
      break;
    case ColumnType::kBool:
      if ((count + 7) / 8 > in.size()) return Corrupt("truncated boolean values");
      for (size_t i = 0; i < count; ++i)
        out.AppendBool((static_cast<uint8_t>(in[i / 8]) >> (i % 8)) & 1);
      pos = (count + 7) / 8;
      break;
    case ColumnType::kDouble:
      if (count > in.size() / 8) return Corrupt("truncated double values");
      for (size_t i = 0; i < count; ++i) {
        uint64_t bits = LoadU64(in.data() + 8 * i);
        double d;
        std::memcpy(&d, &bits, 8);
        out.AppendDouble(d);
      }
      pos = count * 8;
      break;
    default:
      if (count > in.size() / 8) return Corrupt("truncated int64 values");
      for (size_t i = 0; i < count; ++i)
        out.AppendInt64(static_cast<int64_t>(LoadU64(in.data() + 8 * i)));
      pos = count * 8;
  }
  if (consumed) *consumed = pos;
  return Status::Ok();
}

void AppendFrom(const ColumnBuffer& from, size_t row, ColumnBuffer& to) {
  switch (from.type()) {
    case ColumnType::kString:
      to.AppendString(from.StringAt(row));
      break;
    case ColumnType::kDouble:
      to.AppendDouble(from.DoubleAt(row));
      break;
    case ColumnType::kBool:
      to.AppendBool(from.BoolAt(row));
      break;
    default:
      to.AppendInt64(from.Int64At(row));
  }
}

}  // namespace

std::optional<int64_t> ColumnStatistics::MinInt64() const {
  if (!min || min->size() != 8) return std::nullopt;
  return static_cast<int64_t>(LoadU64(min->data()));
}
std::optional<int64_t> ColumnStatistics::MaxInt64() const {
  if (!max || max->size() != 8) return std::nullopt;
  return static_cast<int64_t>(LoadU64(max->data()));
}
std::optional<double> ColumnStatistics::MinDouble() const {
  if (!min || min->size() != 8) return std::nullopt;
  uint64_t b = LoadU64(min->data());
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}
std::optional<double> ColumnStatistics::MaxDouble() const {
  if (!max || max->size() != 8) return std::nullopt;
  uint64_t b = LoadU64(max->data());
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}

Result<ParquetReader> ParquetReader::Open(std::string_view file, ReaderOptions options) {
  if (file.size() < 12) return Corrupt("file shorter than the magic and footer length");
  if (file.substr(0, 4) != "PAR1" || file.substr(file.size() - 4) != "PAR1")
    return Corrupt("not a Parquet file (no PAR1 magic)");
  uint32_t footer_len = LoadU32(file.data() + file.size() - 8);
  if (footer_len > file.size() - 12) return Corrupt("footer length beyond the file");
  if (footer_len > options.max_footer_bytes) return Corrupt("footer larger than the limit");
  ParquetReader reader(file, options);
  reader.footer_start_ = static_cast<int64_t>(file.size() - 8 - footer_len);
  CompactReader r(file.substr(reader.footer_start_, footer_len));
  FileInfo& info = reader.info_;
  std::vector<SchemaElement> schema;
  std::vector<std::vector<int32_t>> physical_types;
  bool has_schema = false, has_rows = false, has_groups = false;
  SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, ThriftType t) -> Status {
    switch (id) {
      case 1:
        return r.ReadI32(t, info.version);
      case 2: {
        has_schema = true;
        ThriftType et;
        uint32_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadListHeader(t, et, n));
        if (et != ThriftType::kStruct) return Corrupt("schema elements are not structs");
        schema.resize(n);
        for (uint32_t i = 0; i < n; ++i) SLUICE_RETURN_IF_ERROR(ReadSchemaElement(r, schema[i]));
        return Status::Ok();
      }
      case 3:
        has_rows = true;
        return r.ReadI64(t, info.num_rows);
      case 4: {
        has_groups = true;
        ThriftType et;
        uint32_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadListHeader(t, et, n));
        if (et != ThriftType::kStruct) return Corrupt("row groups are not structs");
        info.row_groups.resize(n);
        physical_types.resize(n);
        for (uint32_t i = 0; i < n; ++i)
          SLUICE_RETURN_IF_ERROR(ReadRowGroup(r, info.row_groups[i], physical_types[i]));
        return Status::Ok();
      }
      case 5: {
        ThriftType et;
        uint32_t n = 0;
        SLUICE_RETURN_IF_ERROR(r.ReadListHeader(t, et, n));
        if (et != ThriftType::kStruct) return Corrupt("key/value metadata are not structs");
        for (uint32_t i = 0; i < n; ++i) {
          std::pair<std::string, std::string> kv;
          SLUICE_RETURN_IF_ERROR(ForEachField(r, [&](int16_t f, ThriftType ft) -> Status {
            if (f == 1) return ReadString(r, ft, kv.first);
            if (f == 2) return ReadString(r, ft, kv.second);
            return r.Skip(ft);
          }));
          info.key_value_metadata.push_back(std::move(kv));
        }
        return Status::Ok();
      }
      case 6:
        return ReadString(r, t, info.created_by);
      default:
        return r.Skip(t);
    }
  }));
  if (!has_schema || !has_rows || !has_groups) return Corrupt("footer lacks a required field");
  if (schema.empty()) return Corrupt("empty schema");
  if (info.num_rows < 0) return Corrupt("negative num_rows");
  const size_t leaves = schema.size() - 1;
  if (schema[0].num_children.value_or(-1) != static_cast<int32_t>(leaves))
    return Status::InvalidArgument("parquet: only flat schemas are supported");
  for (size_t i = 1; i < schema.size(); ++i) {
    SLUICE_ASSIGN_OR_RETURN(ColumnSpec spec, ColumnOf(schema[i]));
    info.columns.push_back(std::move(spec));
  }
  int64_t total_rows = 0;
  for (size_t g = 0; g < info.row_groups.size(); ++g) {
    RowGroupInfo& rg = info.row_groups[g];
    if (rg.columns.size() != leaves)
      return Corrupt(
          fmt::format("row group {} has {} columns, the schema {}", g, rg.columns.size(), leaves));
    if (rg.num_rows > INT64_MAX - total_rows) return Corrupt("row counts overflow");
    total_rows += rg.num_rows;
    for (size_t c = 0; c < leaves; ++c) {
      const ColumnChunkInfo& chunk = rg.columns[c];
      if (physical_types[g][c] != format::PhysicalTypeOf(info.columns[c].type))
        return Corrupt(
            fmt::format("column '{}': chunk type differs from the schema", info.columns[c].name));
      if (chunk.num_values != rg.num_rows)
        return Corrupt(fmt::format("column '{}' in row group {}: {} values for {} rows",
                                   info.columns[c].name, g, chunk.num_values, rg.num_rows));
    }
    for (size_t c = 0; c < leaves; ++c) {
      // Strings' deprecated min/max used a signed byte order: never trust them.
      ColumnStatistics& s = rg.columns[c].statistics;
      if (info.columns[c].type == ColumnType::kString && s.from_deprecated_fields) {
        s.min.reset();
        s.max.reset();
      }
    }
  }
  if (total_rows != info.num_rows) return Corrupt("row groups' rows do not add up to num_rows");
  return reader;
}

Status ParquetReader::ReadColumn(size_t row_group, size_t column, ColumnBuffer& out) const {
  if (row_group >= info_.row_groups.size() || column >= info_.columns.size())
    return Status::InvalidArgument("parquet: no such row group or column");
  const ColumnSpec& spec = info_.columns[column];
  if (out.type() != spec.type)
    return Status::InvalidArgument("parquet: buffer type differs from the column's");
  const ColumnChunkInfo& chunk = info_.row_groups[row_group].columns[column];
  out.Clear();
  if (chunk.num_values > options_.max_values_per_chunk)
    return Corrupt(fmt::format("column '{}': {} values exceed the reader's limit", spec.name,
                               chunk.num_values));
  int64_t start = chunk.data_page_offset;
  if (chunk.dictionary_page_offset >= 0 && chunk.dictionary_page_offset < start)
    start = chunk.dictionary_page_offset;
  if (start < 4 || chunk.total_compressed_size < 0 ||
      chunk.total_compressed_size > footer_start_ - start)
    return Corrupt(fmt::format("column '{}': chunk outside the file's data", spec.name));
  const std::string_view bytes = file_.substr(start, chunk.total_compressed_size);
  out.Reserve(static_cast<size_t>(std::min<int64_t>(chunk.num_values, 1 << 20)));

  Codec codec;
  ColumnBuffer dictionary(spec.type);
  bool has_dictionary = false;
  std::string page;
  std::vector<uint32_t> levels, indices;
  size_t pos = 0;
  int64_t values_read = 0;
  while (values_read < chunk.num_values) {
    if (pos >= bytes.size())
      return Corrupt(fmt::format("column '{}': chunk ends early", spec.name));
    CompactReader hr(bytes.substr(pos));
    PageHeader h;
    SLUICE_RETURN_IF_ERROR(ReadPageHeader(hr, h));
    pos += hr.position();
    if (h.compressed_size < 0 || static_cast<size_t>(h.compressed_size) > bytes.size() - pos)
      return Corrupt(fmt::format("column '{}': page larger than its chunk", spec.name));
    if (h.uncompressed_size < 0 ||
        static_cast<size_t>(h.uncompressed_size) > options_.max_page_bytes)
      return Corrupt(fmt::format("column '{}': bad uncompressed page size", spec.name));
    std::string_view compressed = bytes.substr(pos, h.compressed_size);
    pos += h.compressed_size;
    if (h.type == format::kIndexPage) continue;
    if (h.type != format::kDataPage && h.type != format::kDictionaryPage &&
        h.type != format::kDataPageV2)
      return Corrupt("unknown page type");
    if (h.num_values < 0) return Corrupt("page without a valid num_values");
    // A v2 data page keeps its levels uncompressed ahead of the (maybe) compressed values.
    std::string_view v2_levels;
    if (h.type == format::kDataPageV2) {
      if (h.def_levels_bytes < 0 || h.rep_levels_bytes < 0 || h.num_nulls < 0 ||
          h.num_rows != h.num_values || h.num_nulls > h.num_values)
        return Corrupt("bad data page v2 header");
      if (h.rep_levels_bytes != 0) return Corrupt("repetition levels in a flat column");
      const size_t levels_bytes = static_cast<size_t>(h.def_levels_bytes);
      if (levels_bytes > compressed.size() ||
          levels_bytes > static_cast<size_t>(h.uncompressed_size))
        return Corrupt("data page v2 levels longer than the page");
      v2_levels = compressed.substr(0, levels_bytes);
      compressed.remove_prefix(levels_bytes);
      const size_t values_size = static_cast<size_t>(h.uncompressed_size) - levels_bytes;
      SLUICE_RETURN_IF_ERROR(
          codec.Decompress(h.is_compressed ? chunk.codec : Compression::kUncompressed, compressed,
                           values_size, page));
    } else {
      SLUICE_RETURN_IF_ERROR(codec.Decompress(chunk.codec, compressed, h.uncompressed_size, page));
    }
    std::string_view body(page);

    if (h.type == format::kDictionaryPage) {
      if (has_dictionary || values_read > 0) return Corrupt("dictionary page not first");
      if (spec.type == ColumnType::kBool) return Corrupt("dictionary for a boolean column");
      if (h.encoding != format::kPlain && h.encoding != format::kPlainDictionary)
        return Corrupt("dictionary page not PLAIN-encoded");
      dictionary.Reserve(std::min<size_t>(h.num_values, body.size() / 4 + 1));
      SLUICE_RETURN_IF_ERROR(DecodePlain(body, spec.type, h.num_values, dictionary, nullptr));
      has_dictionary = true;
      continue;
    }

    if (h.num_values > chunk.num_values - values_read)
      return Corrupt(fmt::format("column '{}': pages hold more values than the chunk", spec.name));
    const size_t n = static_cast<size_t>(h.num_values);
    levels.resize(n);
    size_t present = n;
    if (spec.optional && h.type == format::kDataPageV2) {
      SLUICE_RETURN_IF_ERROR(DecodeRleHybrid(v2_levels, 1, n, levels.data()));
      present = 0;
      for (size_t i = 0; i < n; ++i) present += levels[i];
      if (n - present != static_cast<size_t>(h.num_nulls))
        return Corrupt("data page v2 null count differs from its levels");
    } else if (spec.optional) {
      if (h.def_encoding != format::kRle)
        return Status::InvalidArgument("parquet: only RLE definition levels are supported");
      if (body.size() < 4) return Corrupt("truncated definition levels");
      uint32_t len = LoadU32(body.data());
      if (len > body.size() - 4) return Corrupt("definition levels longer than the page");
      SLUICE_RETURN_IF_ERROR(DecodeRleHybrid(body.substr(4, len), 1, n, levels.data()));
      body.remove_prefix(4 + len);
      present = 0;
      for (size_t i = 0; i < n; ++i) present += levels[i];
    } else {
      std::fill(levels.begin(), levels.end(), 1u);
    }

    if (h.encoding == format::kPlain) {
      // Decode the present values into a scratch buffer, then spread them over the rows.
      if (present == n) {
        SLUICE_RETURN_IF_ERROR(DecodePlain(body, spec.type, n, out, nullptr));
      } else {
        ColumnBuffer values(spec.type);
        SLUICE_RETURN_IF_ERROR(DecodePlain(body, spec.type, present, values, nullptr));
        size_t k = 0;
        for (size_t i = 0; i < n; ++i) {
          if (levels[i])
            AppendFrom(values, k++, out);
          else
            out.AppendNull();
        }
      }
    } else if (h.encoding == format::kRleDictionary || h.encoding == format::kPlainDictionary) {
      if (!has_dictionary) return Corrupt("dictionary-encoded page without a dictionary");
      if (body.empty()) return Corrupt("dictionary indices without a bit width");
      int bit_width = static_cast<uint8_t>(body[0]);
      indices.resize(present);
      SLUICE_RETURN_IF_ERROR(DecodeRleHybrid(body.substr(1), bit_width, present, indices.data()));
      size_t k = 0;
      for (size_t i = 0; i < n; ++i) {
        if (!levels[i]) {
          out.AppendNull();
          continue;
        }
        uint32_t index = indices[k++];
        if (index >= dictionary.size()) return Corrupt("dictionary index out of range");
        AppendFrom(dictionary, index, out);
      }
    } else {
      return Status::InvalidArgument(
          fmt::format("parquet: encoding {} is not supported", h.encoding));
    }
    values_read += h.num_values;
  }
  return Status::Ok();
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FromErrno("open " + path, errno);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return Status::IOError("read " + path);
  return std::move(s).str();
}

}  // namespace sluice::lake
