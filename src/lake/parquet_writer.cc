#include "lake/parquet_writer.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <unordered_set>

#include <fmt/format.h>

#include "base/fixed_bytes.h"
#include "lake/thrift_compact.h"

namespace sluice::lake {
namespace {

constexpr std::string_view kMagic = "PAR1";

// Min/max/null count of a page or a chunk, in the column's value domain.
struct Stats {
  int64_t nulls = 0;
  bool has_bounds = false;
  int64_t imin = 0, imax = 0;
  double dmin = 0, dmax = 0;
  std::string smin, smax;

  void Merge(const Stats& o, ColumnType type) {
    nulls += o.nulls;
    if (!o.has_bounds) return;
    if (!has_bounds) {
      *this = Stats{nulls, true, o.imin, o.imax, o.dmin, o.dmax, o.smin, o.smax};
      return;
    }
    switch (type) {
      case ColumnType::kString:
        if (o.smin < smin) smin = o.smin;
        if (o.smax > smax) smax = o.smax;
        break;
      case ColumnType::kDouble:
        dmin = std::min(dmin, o.dmin);
        dmax = std::max(dmax, o.dmax);
        break;
      default:
        imin = std::min(imin, o.imin);
        imax = std::max(imax, o.imax);
    }
  }
};

Stats ComputeStats(const ColumnBuffer& b) {
  Stats s;
  s.nulls = static_cast<int64_t>(b.null_count());
  const size_t n = b.size();
  const uint8_t* defined = b.defined_data();
  switch (b.type()) {
    case ColumnType::kString: {
      std::string_view lo, hi;
      for (size_t i = 0; i < n; ++i) {
        if (!defined[i]) continue;
        std::string_view v = b.StringAt(i);
        if (!s.has_bounds) {
          lo = hi = v;
          s.has_bounds = true;
        } else if (v < lo) {
          lo = v;
        } else if (v > hi) {
          hi = v;
        }
      }
      if (s.has_bounds) {
        s.smin.assign(lo);
        s.smax.assign(hi);
      }
      break;
    }
    case ColumnType::kDouble: {
      const double* v = b.double_data();
      for (size_t i = 0; i < n; ++i) {
        if (!defined[i] || std::isnan(v[i])) continue;
        if (!s.has_bounds) {
          s.dmin = s.dmax = v[i];
          s.has_bounds = true;
        } else {
          s.dmin = std::min(s.dmin, v[i]);
          s.dmax = std::max(s.dmax, v[i]);
        }
      }
      break;
    }
    case ColumnType::kBool: {
      const uint8_t* v = b.bool_data();
      for (size_t i = 0; i < n; ++i) {
        if (!defined[i]) continue;
        if (!s.has_bounds) {
          s.imin = s.imax = v[i];
          s.has_bounds = true;
        } else {
          s.imin = std::min<int64_t>(s.imin, v[i]);
          s.imax = std::max<int64_t>(s.imax, v[i]);
        }
      }
      break;
    }
    default: {
      const int64_t* v = b.int64_data();
      int64_t lo = INT64_MAX, hi = INT64_MIN;
      for (size_t i = 0; i < n; ++i) {
        int64_t x = defined[i] ? v[i] : lo;
        lo = std::min(lo, x);
        x = defined[i] ? v[i] : hi;
        hi = std::max(hi, x);
      }
      if (static_cast<size_t>(s.nulls) < n) {
        s.has_bounds = true;
        s.imin = lo;
        s.imax = hi;
      }
    }
  }
  return s;
}

// A prefix of `s` of at most `limit` bytes that does not split a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t n = limit;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Statistics struct fields (parquet.thrift Statistics) for `s`.
void WriteStats(CompactWriter& w, int16_t field, const Stats& s, ColumnType type,
                size_t max_string_bytes) {
  w.FieldStructBegin(field);
  w.FieldI64(3, s.nulls);
  if (s.has_bounds) {
    std::string lo, hi;
    bool lo_exact = true, hi_exact = true, has_hi = true;
    switch (type) {
      case ColumnType::kString: {
        std::string_view min_prefix = Utf8Prefix(s.smin, max_string_bytes);
        lo.assign(min_prefix);
        lo_exact = min_prefix.size() == s.smin.size();
        if (s.smax.size() <= max_string_bytes) {
          hi = s.smax;
        } else {
          // An upper bound that stays valid UTF-8: cut after the last ASCII byte below 0x7F
          // of the prefix and increment it.
          std::string_view p = Utf8Prefix(s.smax, max_string_bytes);
          size_t k = p.size();
          while (k > 0 && static_cast<uint8_t>(p[k - 1]) >= 0x7F) --k;
          has_hi = k > 0;
          hi.assign(p.substr(0, k));
          if (has_hi) ++hi.back();
          hi_exact = false;
        }
        break;
      }
      case ColumnType::kDouble: {
        // The spec: a zero min is written as -0.0, a zero max as +0.0.
        double dlo = s.dmin == 0 ? -0.0 : s.dmin;
        double dhi = s.dmax == 0 ? 0.0 : s.dmax;
        uint64_t b;
        std::memcpy(&b, &dlo, 8);
        AppendU64(lo, b);
        std::memcpy(&b, &dhi, 8);
        AppendU64(hi, b);
        break;
      }
      case ColumnType::kBool:
        lo.push_back(static_cast<char>(s.imin));
        hi.push_back(static_cast<char>(s.imax));
        break;
      default:
        AppendU64(lo, static_cast<uint64_t>(s.imin));
        AppendU64(hi, static_cast<uint64_t>(s.imax));
    }
    if (has_hi) w.FieldBinary(5, hi);
    w.FieldBinary(6, lo);
    if (has_hi) w.FieldBool(7, hi_exact);
    w.FieldBool(8, lo_exact);
  }
  w.StructEnd();
}

// Open-addressing dictionary of a column chunk: fixed-width values by their 64-bit pattern,
// strings in one arena. Indices are assigned in insertion order.
class Dictionary {
 public:
  void Reset() {
    count_ = 0;
    ints_.clear();
    arena_.clear();
    ends_.clear();
    hashes_.clear();
    std::fill(slots_.begin(), slots_.end(), 0);
  }
  size_t size() const { return count_; }
  // PLAIN-encoded size of the dictionary page.
  size_t plain_bytes() const { return ints_.size() * 8 + arena_.size() + ends_.size() * 4; }

  uint32_t InsertBits(uint64_t bits) {
    MaybeGrow();
    uint64_t h = Mix(bits);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      uint32_t slot = slots_[i];
      if (slot == 0) {
        ints_.push_back(static_cast<int64_t>(bits));
        hashes_.push_back(h);
        slots_[i] = static_cast<uint32_t>(++count_);
        return slot_value(i);
      }
      if (static_cast<uint64_t>(ints_[slot - 1]) == bits) return slot - 1;
    }
  }
  uint32_t InsertString(std::string_view v) {
    MaybeGrow();
    uint64_t h = std::hash<std::string_view>{}(v);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      uint32_t slot = slots_[i];
      if (slot == 0) {
        arena_.append(v);
        ends_.push_back(arena_.size());
        hashes_.push_back(h);
        slots_[i] = static_cast<uint32_t>(++count_);
        return slot_value(i);
      }
      if (hashes_[slot - 1] == h && StringAt(slot - 1) == v) return slot - 1;
    }
  }

  void EncodePlain(ColumnType type, std::string& out) const {
    if (type == ColumnType::kString) {
      for (size_t i = 0; i < count_; ++i) {
        std::string_view v = StringAt(i);
        AppendU32(out, static_cast<uint32_t>(v.size()));
        out.append(v);
      }
    } else {
      out.append(reinterpret_cast<const char*>(ints_.data()), ints_.size() * 8);
    }
  }

 private:
  static uint64_t Mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }
  uint32_t slot_value(size_t i) const { return slots_[i] - 1; }
  std::string_view StringAt(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(arena_).substr(begin, ends_[i] - begin);
  }
  void MaybeGrow() {
    if ((count_ + 1) * 2 <= slots_.size()) return;
    size_t n = slots_.empty() ? 1024 : slots_.size() * 2;
    slots_.assign(n, 0);
    mask_ = n - 1;
    for (size_t e = 0; e < count_; ++e) {
      for (size_t i = hashes_[e] & mask_;; i = (i + 1) & mask_) {
        if (slots_[i] == 0) {
          slots_[i] = static_cast<uint32_t>(e + 1);
          break;
        }
      }
    }
  }

  size_t count_ = 0;
  size_t mask_ = 0;
  std::vector<uint32_t> slots_;  // entry index + 1; 0 = empty
  std::vector<uint64_t> hashes_;
  std::vector<int64_t> ints_;
  std::string arena_;
  std::vector<uint64_t> ends_;
};

struct ChunkMeta {
  int64_t num_values = 0;
  int64_t uncompressed = 0;  // page headers included
  int64_t compressed = 0;
  int64_t data_page_offset = 0;
  int64_t dictionary_page_offset = -1;
  bool used_plain = false, used_dictionary = false;
  Stats stats;
};

struct RowGroupMeta {
  int64_t num_rows = 0;
  int64_t file_offset = 0;
  int64_t uncompressed = 0;
  int64_t compressed = 0;
  std::vector<ChunkMeta> chunks;
};

struct Column {
  ColumnSpec spec;
  ColumnBuffer buffer;
  bool dictionary_allowed = false;
  bool dictionary_active = false;
  bool dictionary_used = false;  // some page of the current chunk references the dictionary
  int pages_in_chunk = 0;
  size_t committed = 0;  // rows of the buffer that CommitRows accepted
  Dictionary dictionary;
  std::string pages;  // the current chunk's encoded data pages (headers + bodies)
  ChunkMeta meta;
};

std::atomic<uint64_t> temp_counter{0};

}  // namespace

struct ParquetWriter::Impl {
  WriterOptions options;
  std::vector<Column> columns;
  Codec codec;
  // Output: a file (fd >= 0) or `memory`.
  std::string path, temp_path;
  int fd = -1;
  std::string memory;
  std::string out_buffer;  // file writes are gathered here
  int64_t offset = 0;
  bool closed = false;
  Status failed;  // the first I/O error; the writer is unusable after it

  int64_t rows = 0;
  int64_t rows_in_group = 0;
  std::vector<RowGroupMeta> row_groups;

  EVP_MD_CTX* sha = nullptr;  // options.sha256: the digest of the bytes written so far
  std::string sha_hex;

  // Scratch reused across pages.
  std::string body, header, levels;
  std::vector<uint32_t> indices;

  explicit Impl(WriterOptions o)
      : options(std::move(o)), codec(options.zstd_level, options.zstd_literals) {}

  Status Write(std::string_view bytes) {
    offset += static_cast<int64_t>(bytes.size());
    if (fd < 0) {
      memory.append(bytes);
      return Status::Ok();
    }
    if (out_buffer.size() + bytes.size() < (1u << 20)) {
      out_buffer.append(bytes);
      return Status::Ok();
    }
    SLUICE_RETURN_IF_ERROR(Drain());
    return WriteFd(bytes);
  }
  Status Drain() {
    Status st = WriteFd(out_buffer);
    out_buffer.clear();
    return st;
  }
  Status WriteFd(std::string_view bytes) {
    if (sha != nullptr) EVP_DigestUpdate(sha, bytes.data(), bytes.size());
    while (!bytes.empty()) {
      ssize_t n = ::write(fd, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + temp_path, errno);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  void ResetChunk(Column& c) {
    c.dictionary_active = c.dictionary_allowed;
    c.dictionary_used = false;
    c.pages_in_chunk = 0;
    c.dictionary.Reset();
    c.pages.clear();
    c.meta = ChunkMeta{};
  }

  void AppendPlainValues(const ColumnBuffer& b, std::string& out) {
    const size_t n = b.size();
    const uint8_t* defined = b.defined_data();
    switch (b.type()) {
      case ColumnType::kString:
        for (size_t i = 0; i < n; ++i) {
          if (!defined[i]) continue;
          std::string_view v = b.StringAt(i);
          AppendU32(out, static_cast<uint32_t>(v.size()));
          out.append(v);
        }
        break;
      case ColumnType::kBool: {
        uint8_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n; ++i) {
          if (!defined[i]) continue;
          acc |= static_cast<uint8_t>(b.bool_data()[i] << bits);
          if (++bits == 8) {
            out.push_back(static_cast<char>(acc));
            acc = 0;
            bits = 0;
          }
        }
        if (bits > 0) out.push_back(static_cast<char>(acc));
        break;
      }
      case ColumnType::kDouble:
        if (b.null_count() == 0) {
          out.append(reinterpret_cast<const char*>(b.double_data()), n * 8);
        } else {
          for (size_t i = 0; i < n; ++i)
            if (defined[i]) out.append(reinterpret_cast<const char*>(b.double_data() + i), 8);
        }
        break;
      default:
        if (b.null_count() == 0) {
          out.append(reinterpret_cast<const char*>(b.int64_data()), n * 8);
        } else {
          for (size_t i = 0; i < n; ++i)
            if (defined[i]) out.append(reinterpret_cast<const char*>(b.int64_data() + i), 8);
        }
    }
  }

  size_t PlainValueBytes(const ColumnBuffer& b) {
    size_t values = b.size() - b.null_count();
    if (b.type() == ColumnType::kString) return b.arena().size() + values * 4;
    return values * 8;
  }

  // Dictionary indices of the buffer's non-null values.
  void CollectIndices(Column& c) {
    const ColumnBuffer& b = c.buffer;
    const size_t n = b.size();
    const uint8_t* defined = b.defined_data();
    indices.clear();
    indices.reserve(n);
    if (b.type() == ColumnType::kString) {
      for (size_t i = 0; i < n; ++i)
        if (defined[i]) indices.push_back(c.dictionary.InsertString(b.StringAt(i)));
    } else {
      const auto* bits = b.type() == ColumnType::kDouble
                             ? reinterpret_cast<const uint64_t*>(b.double_data())
                             : reinterpret_cast<const uint64_t*>(b.int64_data());
      for (size_t i = 0; i < n; ++i)
        if (defined[i]) indices.push_back(c.dictionary.InsertBits(bits[i]));
    }
  }

  // Compresses `body` and appends the page (header, `levels` uncompressed for a v2 data page,
  // the compressed body) to `dest`. `stats` only for data pages; `num_nulls` for v2.
  Status AppendPage(Column& c, int32_t page_type, int32_t num_values, int32_t encoding,
                    const Stats* stats, std::string_view levels, std::string& dest) {
    SLUICE_ASSIGN_OR_RETURN(const std::string_view compressed,
                            codec.CompressView(options.compression, body));
    if (levels.size() + body.size() > INT32_MAX || levels.size() + compressed.size() > INT32_MAX)
      return Status::InvalidArgument(
          "parquet: a page is larger than 2 GiB; commit smaller batches");
    header.clear();
    CompactWriter w(header);
    w.MessageBegin();
    w.FieldI32(1, page_type);
    w.FieldI32(2, static_cast<int32_t>(levels.size() + body.size()));
    w.FieldI32(3, static_cast<int32_t>(levels.size() + compressed.size()));
    if (page_type == format::kDictionaryPage) {
      w.FieldStructBegin(7);
      w.FieldI32(1, num_values);
      w.FieldI32(2, format::kPlain);
      w.StructEnd();
    } else if (page_type == format::kDataPage) {
      w.FieldStructBegin(5);
      w.FieldI32(1, num_values);
      w.FieldI32(2, encoding);
      w.FieldI32(3, format::kRle);
      w.FieldI32(4, format::kRle);
      WriteStats(w, 5, *stats, c.spec.type, options.max_statistics_bytes);
      w.StructEnd();
    } else {
      w.FieldStructBegin(8);
      w.FieldI32(1, num_values);
      w.FieldI32(2, static_cast<int32_t>(stats->nulls));
      w.FieldI32(3, num_values);  // flat: one value per row
      w.FieldI32(4, encoding);
      w.FieldI32(5, static_cast<int32_t>(levels.size()));
      w.FieldI32(6, 0);
      w.FieldBool(7, options.compression != Compression::kUncompressed);
      WriteStats(w, 8, *stats, c.spec.type, options.max_statistics_bytes);
      w.StructEnd();
    }
    w.StructEnd();
    dest.append(header);
    dest.append(levels);
    dest.append(compressed);
    c.meta.uncompressed += static_cast<int64_t>(header.size() + levels.size() + body.size());
    c.meta.compressed += static_cast<int64_t>(header.size() + levels.size() + compressed.size());
    return Status::Ok();
  }

  Status EncodePage(Column& c) {
    ColumnBuffer& b = c.buffer;
    const size_t n = b.size();
    if (n == 0) return Status::Ok();
    if (n > INT32_MAX) return Status::InvalidArgument("parquet: too many rows in one page");
    Stats stats = ComputeStats(b);
    const bool v2 = options.data_page_version == 2;
    // v1: levels (length-prefixed) and values share the compressed body; v2: the levels stay
    // outside it, without the prefix.
    body.clear();
    levels.clear();
    if (c.spec.optional) {
      if (v2) {
        AppendRleHybridBits(levels, b.defined_data(), n);
      } else {
        body.append(4, '\0');
        AppendRleHybridBits(body, b.defined_data(), n);
        StoreU32(body.data(), static_cast<uint32_t>(body.size() - 4));
      }
    }
    int32_t encoding = format::kPlain;
    if (c.dictionary_active) {
      CollectIndices(c);
      int bit_width = c.dictionary.size() <= 1 ? 1 : std::max(1, BitWidth(c.dictionary.size() - 1));
      size_t index_bytes = indices.size() * bit_width / 8 + 1;
      if (c.pages_in_chunk == 0 && c.dictionary.plain_bytes() + index_bytes >= PlainValueBytes(b)) {
        // The dictionary does not pay off for this chunk: nothing references it yet.
        c.dictionary.Reset();
        c.dictionary_active = false;
      } else {
        body.push_back(static_cast<char>(bit_width));
        AppendRleHybrid(body, indices.data(), indices.size(), bit_width);
        encoding = format::kRleDictionary;
        c.dictionary_used = true;
        c.meta.used_dictionary = true;
        if (static_cast<int64_t>(c.dictionary.plain_bytes()) > options.dictionary_page_bytes)
          c.dictionary_active = false;  // later pages of this chunk are PLAIN
      }
    }
    if (encoding == format::kPlain) {
      AppendPlainValues(b, body);
      c.meta.used_plain = true;
    }
    SLUICE_RETURN_IF_ERROR(AppendPage(c, v2 ? format::kDataPageV2 : format::kDataPage,
                                      static_cast<int32_t>(n), encoding, &stats, levels, c.pages));
    c.meta.num_values += static_cast<int64_t>(n);
    c.meta.stats.Merge(stats, c.spec.type);
    ++c.pages_in_chunk;
    b.Clear();
    c.committed = 0;
    return Status::Ok();
  }

  Status CheckNothingUncommitted() const {
    for (const Column& c : columns)
      if (c.buffer.size() != c.committed)
        return Status::FailedPrecondition(fmt::format(
            "parquet: column '{}' holds rows not committed with CommitRows()", c.spec.name));
    return Status::Ok();
  }

  Status FlushRowGroup() {
    for (Column& c : columns) SLUICE_RETURN_IF_ERROR(EncodePage(c));
    if (rows_in_group == 0) return Status::Ok();
    RowGroupMeta rg;
    rg.num_rows = rows_in_group;
    rg.file_offset = offset;
    for (Column& c : columns) {
      int64_t chunk_start = offset;
      if (c.dictionary_used) {
        body.clear();
        c.dictionary.EncodePlain(c.spec.type, body);
        std::string dict_page;
        SLUICE_RETURN_IF_ERROR(AppendPage(c, format::kDictionaryPage,
                                          static_cast<int32_t>(c.dictionary.size()), format::kPlain,
                                          nullptr, {}, dict_page));
        SLUICE_RETURN_IF_ERROR(Write(dict_page));
        c.meta.dictionary_page_offset = chunk_start;
      }
      c.meta.data_page_offset = offset;
      SLUICE_RETURN_IF_ERROR(Write(c.pages));
      rg.uncompressed += c.meta.uncompressed;
      rg.compressed += c.meta.compressed;
      rg.chunks.push_back(std::move(c.meta));
      ResetChunk(c);
    }
    row_groups.push_back(std::move(rg));
    rows_in_group = 0;
    return Status::Ok();
  }

  std::string Footer() const {
    std::string out;
    CompactWriter w(out);
    w.MessageBegin();
    w.FieldI32(1, 1);
    w.FieldListBegin(2, ThriftType::kStruct, static_cast<uint32_t>(columns.size() + 1));
    w.ListStructBegin();
    w.FieldBinary(4, "schema");
    w.FieldI32(5, static_cast<int32_t>(columns.size()));
    w.StructEnd();
    for (const Column& c : columns) {
      const ColumnSpec& s = c.spec;
      w.ListStructBegin();
      w.FieldI32(1, format::PhysicalTypeOf(s.type));
      w.FieldI32(3, s.optional ? format::kOptional : format::kRequired);
      w.FieldBinary(4, s.name);
      // Fields in id order: converted type (6, 7, 8), field_id (9), logical type (10).
      switch (s.type) {
        case ColumnType::kString:
          w.FieldI32(6, format::kUtf8);
          break;
        case ColumnType::kTimestampMicros:
          w.FieldI32(6, format::kTimestampMicros);
          break;
        case ColumnType::kDecimal:
          w.FieldI32(6, format::kDecimal);
          w.FieldI32(7, s.scale);
          w.FieldI32(8, s.precision);
          break;
        default:
          break;
      }
      if (s.field_id != 0) w.FieldI32(9, s.field_id);
      switch (s.type) {
        case ColumnType::kString:
          w.FieldStructBegin(10);
          w.FieldStructBegin(1);  // STRING
          w.StructEnd();
          w.StructEnd();
          break;
        case ColumnType::kTimestampMicros:
          w.FieldStructBegin(10);
          w.FieldStructBegin(8);  // TIMESTAMP
          w.FieldBool(1, true);   // isAdjustedToUTC
          w.FieldStructBegin(2);  // unit
          w.FieldStructBegin(2);  // MICROS
          w.StructEnd();
          w.StructEnd();
          w.StructEnd();
          w.StructEnd();
          break;
        case ColumnType::kDecimal:
          w.FieldStructBegin(10);
          w.FieldStructBegin(5);  // DECIMAL
          w.FieldI32(1, s.scale);
          w.FieldI32(2, s.precision);
          w.StructEnd();
          w.StructEnd();
          break;
        default:
          break;
      }
      w.StructEnd();
    }
    w.FieldI64(3, rows);
    w.FieldListBegin(4, ThriftType::kStruct, static_cast<uint32_t>(row_groups.size()));
    for (size_t g = 0; g < row_groups.size(); ++g) {
      const RowGroupMeta& rg = row_groups[g];
      w.ListStructBegin();
      w.FieldListBegin(1, ThriftType::kStruct, static_cast<uint32_t>(rg.chunks.size()));
      for (size_t i = 0; i < rg.chunks.size(); ++i) {
        const ChunkMeta& m = rg.chunks[i];
        const ColumnSpec& s = columns[i].spec;
        int64_t start =
            m.dictionary_page_offset >= 0 ? m.dictionary_page_offset : m.data_page_offset;
        w.ListStructBegin();
        w.FieldI64(2, start);
        w.FieldStructBegin(3);
        w.FieldI32(1, format::PhysicalTypeOf(s.type));
        std::vector<int32_t> encodings;
        if (m.used_plain || m.used_dictionary) encodings.push_back(format::kPlain);
        encodings.push_back(format::kRle);
        if (m.used_dictionary) encodings.push_back(format::kRleDictionary);
        w.FieldListBegin(2, ThriftType::kI32, static_cast<uint32_t>(encodings.size()));
        for (int32_t e : encodings) w.ListI32(e);
        w.FieldListBegin(3, ThriftType::kBinary, 1);
        w.ListBinary(s.name);
        w.FieldI32(4, format::CodecOf(options.compression));
        w.FieldI64(5, m.num_values);
        w.FieldI64(6, m.uncompressed);
        w.FieldI64(7, m.compressed);
        w.FieldI64(9, m.data_page_offset);
        if (m.dictionary_page_offset >= 0) w.FieldI64(11, m.dictionary_page_offset);
        WriteStats(w, 12, m.stats, s.type, options.max_statistics_bytes);
        w.StructEnd();
        w.StructEnd();
      }
      w.FieldI64(2, rg.uncompressed);
      w.FieldI64(3, rg.num_rows);
      w.FieldI64(5, rg.file_offset);
      w.FieldI64(6, rg.compressed);
      w.FieldI16(7, static_cast<int16_t>(std::min<size_t>(g, INT16_MAX)));
      w.StructEnd();
    }
    if (!options.key_value_metadata.empty()) {
      w.FieldListBegin(5, ThriftType::kStruct,
                       static_cast<uint32_t>(options.key_value_metadata.size()));
      for (const auto& [k, v] : options.key_value_metadata) {
        w.ListStructBegin();
        w.FieldBinary(1, k);
        w.FieldBinary(2, v);
        w.StructEnd();
      }
    }
    w.FieldBinary(6, options.created_by);
    w.FieldListBegin(7, ThriftType::kStruct, static_cast<uint32_t>(columns.size()));
    for (size_t i = 0; i < columns.size(); ++i) {
      w.ListStructBegin();
      w.FieldStructBegin(1);  // TYPE_ORDER
      w.StructEnd();
      w.StructEnd();
    }
    w.StructEnd();
    return out;
  }

  // Opens the temporary file of `path` and writes the magic (a fresh file or a Reopen).
  Status StartFile(std::string file_path) {
    path = std::move(file_path);
    temp_path = fmt::format("{}.tmp-{}-{}", path, ::getpid(), temp_counter++);
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + temp_path, errno);
    sha_hex.clear();
    if (options.sha256) {
      if (sha == nullptr) sha = EVP_MD_CTX_new();
      if (sha == nullptr || EVP_DigestInit_ex(sha, EVP_sha256(), nullptr) != 1)
        return Status::ResourceExhausted("parquet: no SHA-256 context");
    }
    out_buffer.assign(kMagic);
    offset = static_cast<int64_t>(kMagic.size());
    return Status::Ok();
  }

  void FinishSha() {
    if (sha == nullptr) return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(sha, md, &n);
    static constexpr char kHex[] = "0123456789abcdef";
    sha_hex.clear();
    for (unsigned int i = 0; i < n; ++i) {
      sha_hex.push_back(kHex[md[i] >> 4]);
      sha_hex.push_back(kHex[md[i] & 15]);
    }
  }

  void RemoveTemp() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
      ::unlink(temp_path.c_str());
    }
  }
};

namespace {

Status ValidateSpecs(const std::vector<ColumnSpec>& columns) {
  if (columns.empty()) return Status::InvalidArgument("parquet: no columns");
  std::unordered_set<std::string_view> names;
  for (const ColumnSpec& s : columns) {
    if (s.name.empty()) return Status::InvalidArgument("parquet: a column has an empty name");
    if (!names.insert(s.name).second)
      return Status::InvalidArgument(fmt::format("parquet: duplicate column name '{}'", s.name));
    if (s.type == ColumnType::kDecimal && (s.precision < 1 || s.precision > kMaxDecimalPrecision ||
                                           s.scale < 0 || s.scale > s.precision))
      return Status::InvalidArgument(fmt::format(
          "parquet: column '{}': decimal precision must be 1..18 and scale 0..precision", s.name));
  }
  return Status::Ok();
}

}  // namespace

ParquetWriter::ParquetWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ParquetWriter::~ParquetWriter() {
  if (!impl_) return;
  if (!impl_->closed) impl_->RemoveTemp();
  if (impl_->sha != nullptr) EVP_MD_CTX_free(impl_->sha);
}

Result<std::unique_ptr<ParquetWriter>> ParquetWriter::OpenBuffer(std::vector<ColumnSpec> columns,
                                                                 WriterOptions options) {
  SLUICE_RETURN_IF_ERROR(ValidateSpecs(columns));
  if (options.row_group_bytes <= 0 || options.page_bytes <= 0)
    return Status::InvalidArgument("parquet: row group and page sizes must be positive");
  if (options.data_page_version != 1 && options.data_page_version != 2)
    return Status::InvalidArgument("parquet: data_page_version must be 1 or 2");
  for (const ColumnSpec& s : columns)
    if (s.field_id < 0)
      return Status::InvalidArgument(
          fmt::format("parquet: column '{}': field_id must not be negative", s.name));
  auto impl = std::make_unique<Impl>(std::move(options));
  for (ColumnSpec& s : columns) {
    ColumnType type = s.type;
    Column c{std::move(s), ColumnBuffer(type)};
    c.dictionary_allowed =
        impl->options.dictionary && c.spec.dictionary && c.spec.type != ColumnType::kBool;
    impl->ResetChunk(c);
    impl->columns.push_back(std::move(c));
  }
  SLUICE_RETURN_IF_ERROR(impl->Write(kMagic));
  return std::unique_ptr<ParquetWriter>(new ParquetWriter(std::move(impl)));
}

Result<std::unique_ptr<ParquetWriter>> ParquetWriter::OpenFile(std::string path,
                                                               std::vector<ColumnSpec> columns,
                                                               WriterOptions options) {
  SLUICE_ASSIGN_OR_RETURN(auto writer, OpenBuffer(std::move(columns), std::move(options)));
  Impl& impl = *writer->impl_;
  impl.memory.clear();  // the magic: StartFile writes it to the file instead
  SLUICE_RETURN_IF_ERROR(impl.StartFile(std::move(path)));
  return writer;
}

Status ParquetWriter::Reopen(std::string path) {
  Impl& m = *impl_;
  if (!m.closed || m.path.empty())
    return Status::FailedPrecondition("parquet: Reopen needs a file writer that was closed");
  m.closed = false;
  m.failed = Status::Ok();
  m.rows = 0;
  m.rows_in_group = 0;
  m.row_groups.clear();
  for (Column& c : m.columns) {
    c.buffer.Clear();
    c.committed = 0;
    m.ResetChunk(c);
  }
  Status st = m.StartFile(std::move(path));
  if (!st.ok()) m.failed = st;
  return st;
}

const std::string& ParquetWriter::sha256_hex() const {
  return impl_->sha_hex;
}

std::vector<ParquetWriter::ColumnSummary> ParquetWriter::column_summaries() const {
  const Impl& m = *impl_;
  std::vector<ColumnSummary> out(m.columns.size());
  for (const RowGroupMeta& rg : m.row_groups) {
    for (size_t i = 0; i < rg.chunks.size() && i < out.size(); ++i) {
      const ChunkMeta& c = rg.chunks[i];
      ColumnSummary& s = out[i];
      s.values += c.num_values;
      s.nulls += c.stats.nulls;
      s.compressed_bytes += c.compressed;
      if (!c.stats.has_bounds) continue;
      const bool first = !s.has_bounds;
      s.has_bounds = true;
      switch (m.columns[i].spec.type) {
        case ColumnType::kString:
          if (first || c.stats.smin < s.min_string) s.min_string = c.stats.smin;
          if (first || c.stats.smax > s.max_string) s.max_string = c.stats.smax;
          break;
        case ColumnType::kDouble:
          s.min_double = first ? c.stats.dmin : std::min(s.min_double, c.stats.dmin);
          s.max_double = first ? c.stats.dmax : std::max(s.max_double, c.stats.dmax);
          break;
        default:
          s.min_int = first ? c.stats.imin : std::min(s.min_int, c.stats.imin);
          s.max_int = first ? c.stats.imax : std::max(s.max_int, c.stats.imax);
      }
    }
  }
  return out;
}

size_t ParquetWriter::num_columns() const {
  return impl_->columns.size();
}
const ColumnSpec& ParquetWriter::spec(size_t column) const {
  return impl_->columns[column].spec;
}
ColumnBuffer& ParquetWriter::column(size_t column) {
  return impl_->columns[column].buffer;
}
int64_t ParquetWriter::rows_written() const {
  return impl_->rows;
}
int64_t ParquetWriter::bytes_written() const {
  return impl_->offset;
}
int64_t ParquetWriter::row_groups_written() const {
  return static_cast<int64_t>(impl_->row_groups.size());
}
const std::string& ParquetWriter::buffer() const {
  return impl_->memory;
}

Status ParquetWriter::CommitRows() {
  Impl& m = *impl_;
  if (m.closed) return Status::FailedPrecondition("parquet: writer is closed");
  if (!m.failed.ok()) return m.failed;
  // Buffers may still hold rows of earlier commits (pages are cut per column), so the batch
  // is what each buffer holds beyond its committed rows.
  const size_t rows = m.columns[0].buffer.size() - m.columns[0].committed;
  Status bad;
  for (Column& c : m.columns) {
    size_t batch = c.buffer.size() - c.committed;
    if (batch != rows) {
      bad = Status::InvalidArgument(
          fmt::format("parquet: column '{}' has {} rows in the batch, column '{}' has {}",
                      c.spec.name, batch, m.columns[0].spec.name, rows));
      break;
    }
    // Committed rows of a required column hold no null, so any null is in this batch.
    if (!c.spec.optional && c.buffer.null_count() > 0) {
      bad = Status::InvalidArgument(
          fmt::format("parquet: null in the required column '{}'", c.spec.name));
      break;
    }
  }
  if (!bad.ok()) {
    for (Column& c : m.columns)
      while (c.buffer.size() > c.committed) c.buffer.PopBack();
    return bad;
  }
  m.rows += static_cast<int64_t>(rows);
  m.rows_in_group += static_cast<int64_t>(rows);
  int64_t buffered = 0, written = 0;
  for (Column& c : m.columns) {
    c.committed += rows;
    if (static_cast<int64_t>(c.buffer.byte_size()) >= m.options.page_bytes) {
      Status st = m.EncodePage(c);
      if (!st.ok()) return m.failed = st;
    }
    buffered += static_cast<int64_t>(c.buffer.byte_size());
    written += static_cast<int64_t>(c.pages.size() + c.dictionary.plain_bytes());
  }
  if (written + buffered >= m.options.row_group_bytes) {
    Status st = m.FlushRowGroup();
    if (!st.ok()) return m.failed = st;
  }
  return Status::Ok();
}

Status ParquetWriter::FlushRowGroup() {
  Impl& m = *impl_;
  if (m.closed) return Status::FailedPrecondition("parquet: writer is closed");
  if (!m.failed.ok()) return m.failed;
  SLUICE_RETURN_IF_ERROR(m.CheckNothingUncommitted());
  Status st = m.FlushRowGroup();
  if (!st.ok()) m.failed = st;
  return st;
}

Status ParquetWriter::Close() {
  Impl& m = *impl_;
  if (m.closed) return Status::FailedPrecondition("parquet: writer is already closed");
  if (!m.failed.ok()) return m.failed;
  auto fail = [&](Status st) {
    m.failed = st;
    m.RemoveTemp();
    return st;
  };
  SLUICE_RETURN_IF_ERROR(m.CheckNothingUncommitted());
  Status st = m.FlushRowGroup();
  if (!st.ok()) return fail(st);
  std::string footer = m.Footer();
  AppendU32(footer, static_cast<uint32_t>(footer.size()));
  footer.append(kMagic);
  st = m.Write(footer);
  if (!st.ok()) return fail(st);
  if (m.fd >= 0) {
    st = m.Drain();
    if (!st.ok()) return fail(st);
    m.FinishSha();
    if (::fsync(m.fd) != 0) return fail(Status::FromErrno("fsync " + m.temp_path, errno));
    ::close(m.fd);
    m.fd = -1;
    if (::rename(m.temp_path.c_str(), m.path.c_str()) != 0) {
      Status rename_error = Status::FromErrno("rename " + m.temp_path, errno);
      ::unlink(m.temp_path.c_str());
      return m.failed = rename_error;
    }
    std::string dir = std::filesystem::path(m.path).parent_path().string();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      int rc = ::fsync(dfd);
      int err = errno;
      ::close(dfd);
      if (rc != 0) return m.failed = Status::FromErrno("fsync " + dir, err);
    }
  }
  m.closed = true;
  return Status::Ok();
}

}  // namespace sluice::lake
