// Internal to src/lake: the Parquet format's enum values, the RLE/bit-packed hybrid encoding
// (definition levels and dictionary indices), and the page compression codecs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "lake/columns.h"

namespace sluice::lake {

// Page compression (the column chunk's codec).
enum class Compression : uint8_t { kUncompressed, kSnappy, kZstd };
std::string_view CompressionName(Compression c);

namespace format {
// parquet.thrift enum values.
enum PhysicalType : int32_t { kBoolean = 0, kInt32 = 1, kInt64 = 2, kDouble = 5, kByteArray = 6 };
enum ConvertedType : int32_t { kUtf8 = 0, kDecimal = 5, kTimestampMicros = 10 };
enum Repetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum Encoding : int32_t { kPlain = 0, kPlainDictionary = 2, kRle = 3, kRleDictionary = 8 };
enum Codec : int32_t { kUncompressed = 0, kSnappy = 1, kZstd = 6 };
enum PageType : int32_t { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

int32_t CodecOf(Compression c);
PhysicalType PhysicalTypeOf(ColumnType t);
}  // namespace format

// Bits needed for values up to `max_value` (0 for 0).
int BitWidth(uint64_t max_value);

// Appends `values` (each < 2^bit_width, bit_width <= 32) RLE/bit-packed-hybrid encoded,
// without a length prefix.
void AppendRleHybrid(std::string& out, const uint32_t* values, size_t count, int bit_width);
// Same for 0/1 bytes (definition levels, bit width 1).
void AppendRleHybridBits(std::string& out, const uint8_t* values, size_t count);

// Decodes exactly `count` values from `in` (bit_width <= 32). Corruption when the input
// ends early or a header is malformed; trailing bytes are allowed (bit-packed padding).
Status DecodeRleHybrid(std::string_view in, int bit_width, size_t count, uint32_t* out);

// Reusable compression state (a ZSTD context); one per writer or reader thread.
class Codec {
 public:
  // `zstd_literals` false: ZSTD leaves literals uncompressed (no Huffman stage): faster,
  // larger output.
  explicit Codec(int zstd_level = 1, bool zstd_literals = true);
  ~Codec();
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  // Replaces `out` with the compressed `in`.
  Status Compress(Compression c, std::string_view in, std::string& out);
  // The compressed `in`, in a buffer of this codec (or `in` itself, uncompressed) that stays
  // valid until the next call; saves zero-filling a fresh output each time.
  Result<std::string_view> CompressView(Compression c, std::string_view in);
  // Replaces `out` with the decompressed `in`, which must be exactly `uncompressed_size`
  // bytes (Corruption otherwise).
  Status Decompress(Compression c, std::string_view in, size_t uncompressed_size, std::string& out);

 private:
  struct Contexts;
  std::unique_ptr<Contexts> contexts_;
  int zstd_level_;
  bool zstd_literals_;
};

}  // namespace sluice::lake
