#include "lake/encoding.h"

#include <snappy.h>
// For ZSTD_c_literalCompressionMode (stable in libzstd 1.5, still declared as experimental).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <cstring>

namespace sluice::lake {

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kUncompressed:
      return "uncompressed";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

std::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kString:
      return "string";
    case ColumnType::kInt64:
      return "int64";
    case ColumnType::kDouble:
      return "double";
    case ColumnType::kBool:
      return "boolean";
    case ColumnType::kTimestampMicros:
      return "timestamp";
    case ColumnType::kDecimal:
      return "decimal";
  }
  return "?";
}

namespace format {
int32_t CodecOf(Compression c) {
  switch (c) {
    case Compression::kSnappy:
      return kSnappy;
    case Compression::kZstd:
      return kZstd;
    case Compression::kUncompressed:
      break;
  }
  return kUncompressed;
}

PhysicalType PhysicalTypeOf(ColumnType t) {
  switch (t) {
    case ColumnType::kString:
      return kByteArray;
    case ColumnType::kDouble:
      return kDouble;
    case ColumnType::kBool:
      return kBoolean;
    default:
      return kInt64;
  }
}
}  // namespace format

int BitWidth(uint64_t max_value) {
  int bits = 0;
  while (max_value != 0) {
    ++bits;
    max_value >>= 1;
  }
  return bits;
}

namespace {

void AppendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// The hybrid encoding over any indexable source of small unsigned values. Runs of 8 or more
// equal values become RLE runs; everything else goes into bit-packed groups of 8 (the last
// group padded with zeros).
template <typename Get>
void AppendHybrid(std::string& out, size_t count, int bit_width, Get get) {
  const size_t value_bytes = (bit_width + 7) / 8;
  auto run_at = [&](size_t i) {
    size_t j = i + 1;
    uint32_t v = get(i);
    while (j < count && get(j) == v) ++j;
    return j - i;
  };
  size_t i = 0;
  while (i < count) {
    size_t run = run_at(i);
    if (run >= 8) {
      AppendVarint(out, static_cast<uint64_t>(run) << 1);
      uint32_t v = get(i);
      for (size_t b = 0; b < value_bytes; ++b) out.push_back(static_cast<char>(v >> (8 * b)));
      i += run;
      continue;
    }
    // Bit-packed groups until a long run starts at a group boundary (at most 63 groups per
    // header keeps the header one byte).
    size_t start = i;
    size_t groups = 0;
    do {
      ++groups;
      i += 8;
    } while (i < count && groups < 63 && run_at(i) < 8);
    AppendVarint(out, (groups << 1) | 1);
    size_t packed_values = groups * 8;
    size_t base = out.size();
    out.resize(base + packed_values * bit_width / 8, '\0');
    auto* bytes = reinterpret_cast<uint8_t*>(out.data() + base);
    uint64_t acc = 0;
    int acc_bits = 0;
    size_t pos = 0;
    for (size_t k = 0; k < packed_values; ++k) {
      uint64_t v = start + k < count ? get(start + k) : 0;
      acc |= v << acc_bits;
      acc_bits += bit_width;
      while (acc_bits >= 8) {
        bytes[pos++] = static_cast<uint8_t>(acc);
        acc >>= 8;
        acc_bits -= 8;
      }
    }
    if (i > count) i = count;
  }
}

}  // namespace

void AppendRleHybrid(std::string& out, const uint32_t* values, size_t count, int bit_width) {
  AppendHybrid(out, count, bit_width, [values](size_t i) { return values[i]; });
}

void AppendRleHybridBits(std::string& out, const uint8_t* values, size_t count) {
  // Fast path: all ones (no nulls) is one RLE run.
  if (count > 0 && std::memchr(values, 0, count) == nullptr) {
    AppendVarint(out, static_cast<uint64_t>(count) << 1);
    out.push_back(1);
    return;
  }
  AppendHybrid(out, count, 1, [values](size_t i) { return static_cast<uint32_t>(values[i]); });
}

Status DecodeRleHybrid(std::string_view in, int bit_width, size_t count, uint32_t* out) {
  if (bit_width < 0 || bit_width > 32) return Status::Corruption("rle: bit width above 32");
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const uint8_t* end = p + in.size();
  const size_t value_bytes = (bit_width + 7) / 8;
  const uint64_t mask = bit_width == 32 ? 0xFFFFFFFFull : ((1ull << bit_width) - 1);
  size_t produced = 0;
  while (produced < count) {
    uint64_t header = 0;
    int shift = 0;
    for (;;) {
      if (p >= end) return Status::Corruption("rle: input ends before all values");
      if (shift > 28) return Status::Corruption("rle: run header too long");
      uint8_t b = *p++;
      header |= static_cast<uint64_t>(b & 0x7F) << shift;
      shift += 7;
      if ((b & 0x80) == 0) break;
    }
    if ((header & 1) == 0) {
      uint64_t run = header >> 1;
      if (run == 0) return Status::Corruption("rle: empty run");
      if (static_cast<size_t>(end - p) < value_bytes)
        return Status::Corruption("rle: truncated run value");
      uint64_t v = 0;
      for (size_t b = 0; b < value_bytes; ++b) v |= static_cast<uint64_t>(p[b]) << (8 * b);
      p += value_bytes;
      if (v > mask) return Status::Corruption("rle: run value wider than the bit width");
      size_t n = run < count - produced ? static_cast<size_t>(run) : count - produced;
      for (size_t k = 0; k < n; ++k) out[produced + k] = static_cast<uint32_t>(v);
      produced += n;
    } else {
      uint64_t groups = header >> 1;
      if (groups == 0) return Status::Corruption("rle: empty bit-packed run");
      uint64_t bytes_needed = groups * bit_width;  // 8 values per group: bit_width bytes
      if (bytes_needed > static_cast<uint64_t>(end - p))
        return Status::Corruption("rle: truncated bit-packed run");
      size_t values = static_cast<size_t>(groups * 8);
      size_t n = values < count - produced ? values : count - produced;
      uint64_t acc = 0;
      int acc_bits = 0;
      const uint8_t* q = p;
      for (size_t k = 0; k < n; ++k) {
        while (acc_bits < bit_width) {
          acc |= static_cast<uint64_t>(*q++) << acc_bits;
          acc_bits += 8;
        }
        out[produced + k] = static_cast<uint32_t>(acc & mask);
        acc >>= bit_width;
        acc_bits -= bit_width;
      }
      p += bytes_needed;
      produced += n;
    }
  }
  return Status::Ok();
}

struct Codec::Contexts {
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  std::unique_ptr<char[]> out;  // CompressView's buffer
  size_t out_capacity = 0;
};

Codec::Codec(int zstd_level, bool zstd_literals)
    : contexts_(std::make_unique<Contexts>()),
      zstd_level_(zstd_level),
      zstd_literals_(zstd_literals) {}

// The compression context, created with the codec's parameters on first use.
static ZSTD_CCtx* CompressionContext(ZSTD_CCtx*& cctx, int level, bool literals) {
  if (cctx != nullptr) return cctx;
  cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return nullptr;
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!literals) ZSTD_CCtx_setParameter(cctx, ZSTD_c_literalCompressionMode, ZSTD_ps_disable);
  return cctx;
}

Codec::~Codec() {
  ZSTD_freeCCtx(contexts_->cctx);
  ZSTD_freeDCtx(contexts_->dctx);
}

Status Codec::Compress(Compression c, std::string_view in, std::string& out) {
  switch (c) {
    case Compression::kUncompressed:
      out.assign(in);
      return Status::Ok();
    case Compression::kSnappy: {
      out.resize(snappy::MaxCompressedLength(in.size()));
      size_t n = 0;
      snappy::RawCompress(in.data(), in.size(), out.data(), &n);
      out.resize(n);
      return Status::Ok();
    }
    case Compression::kZstd: {
      ZSTD_CCtx* cctx = CompressionContext(contexts_->cctx, zstd_level_, zstd_literals_);
      if (cctx == nullptr) return Status::ResourceExhausted("zstd: no context");
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress2(cctx, out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      out.resize(n);
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown compression");
}

Result<std::string_view> Codec::CompressView(Compression c, std::string_view in) {
  if (c == Compression::kUncompressed) return in;
  const size_t bound = c == Compression::kZstd ? ZSTD_compressBound(in.size())
                                               : snappy::MaxCompressedLength(in.size());
  if (contexts_->out_capacity < bound) {
    contexts_->out = std::make_unique_for_overwrite<char[]>(bound);
    contexts_->out_capacity = bound;
  }
  char* out = contexts_->out.get();
  if (c == Compression::kSnappy) {
    size_t n = 0;
    snappy::RawCompress(in.data(), in.size(), out, &n);
    return std::string_view(out, n);
  }
  ZSTD_CCtx* cctx = CompressionContext(contexts_->cctx, zstd_level_, zstd_literals_);
  if (cctx == nullptr) return Status::ResourceExhausted("zstd: no context");
  size_t n = ZSTD_compress2(cctx, out, bound, in.data(), in.size());
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
  return std::string_view(out, n);
}

Status Codec::Decompress(Compression c, std::string_view in, size_t uncompressed_size,
                         std::string& out) {
  switch (c) {
    case Compression::kUncompressed:
      if (in.size() != uncompressed_size)
        return Status::Corruption("uncompressed page size does not match its header");
      out.assign(in);
      return Status::Ok();
    case Compression::kSnappy: {
      size_t n = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &n) || n != uncompressed_size)
        return Status::Corruption("snappy: page size does not match its header");
      if (!snappy::IsValidCompressedBuffer(in.data(), in.size()))
        return Status::Corruption("snappy: invalid compressed page");
      out.resize(n);
      if (!snappy::RawUncompress(in.data(), in.size(), out.data()))
        return Status::Corruption("snappy: invalid compressed page");
      return Status::Ok();
    }
    case Compression::kZstd: {
      if (contexts_->dctx == nullptr) contexts_->dctx = ZSTD_createDCtx();
      if (contexts_->dctx == nullptr) return Status::ResourceExhausted("zstd: no context");
      out.resize(uncompressed_size);
      size_t n = ZSTD_decompressDCtx(contexts_->dctx, out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
      if (n != uncompressed_size)
        return Status::Corruption("zstd: page size does not match its header");
      return Status::Ok();
    }
  }
  return Status::Corruption("unknown compression");
}

}  // namespace sluice::lake
