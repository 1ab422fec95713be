// Extraction of the event fields a pipeline's expressions read, in one simdjson on-demand pass
// over the event, without a DOM.
//
// A FieldSet collects the paths that compiled expressions reference (Compile() in expr.h adds
// them) and gives each a slot; an EventFieldExtractor built from it reads an event and fills one
// Value per slot, which the evaluator reads through Row::fields.
//
// What callers may rely on:
//
// * Slots are dense, 0..size()-1, in order of first registration; registering a path again
//   returns its slot. A FieldSet may grow after extractors were built from it; those extractors
//   keep the paths they were built with (build a new one to read the new paths).
// * Values per JSON type: null or a missing field -> NULL; true/false -> BOOLEAN; a number
//   written as an integer that fits int64 -> BIGINT, any other number -> DOUBLE; a string ->
//   VARCHAR (unescaped); an object or array -> JSON holding its text exactly as written. A
//   path through something that is not an object (or array, for a position) is NULL. For a
//   path registered in count mode (cardinality(lines)): BIGINT, the number of elements, counted
//   without reading them, or NULL when the value is not an array.
// * Array positions are 0-based in a PathStep (SQL's lines[1] is index 0).
// * One pass: the event is read once, in order; only the objects and arrays on the way to a
//   registered path are entered, everything else is skipped by simdjson without being parsed;
//   reading a top-level object stops as soon as every registered top-level name was seen. When
//   a path and a path below it are both registered (`source` and `source.service`), the inner
//   ones are read from the outer value's text after the pass.
// * Duplicate keys (which ingest rejects) resolve to the first occurrence.
// * No allocation per event once warm: string values view the record when they contain no
//   escape, else the extractor's own buffer; values are valid until the next Extract().
// * The record must be followed by at least simdjson::SIMDJSON_PADDING readable bytes (as
//   everywhere on the ingest path). Invalid JSON gives InvalidArgument ("invalid JSON: ..."),
//   never a crash; values of slots not reached are NULL. Not thread-safe: one
//   extractor per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sql/expr.h"
#include "sql/value.h"

namespace sluice::sql {

enum class FieldMode : uint8_t {
  kValue,  // the value (scalars as Values, objects and arrays as JSON text)
  kCount,  // the number of elements of an array; NULL for anything else
};

class FieldSet {
 public:
  // The slot of `path` in `mode`, added if new. `path` must not be empty.
  int Add(const FieldPath& path, FieldMode mode = FieldMode::kValue);
  size_t size() const { return entries_.size(); }
  const FieldPath& path(int slot) const { return entries_[static_cast<size_t>(slot)].path; }
  FieldMode mode(int slot) const { return entries_[static_cast<size_t>(slot)].mode; }

 private:
  struct Entry {
    FieldPath path;
    FieldMode mode;
  };
  std::vector<Entry> entries_;
};

class EventFieldExtractor {
 public:
  explicit EventFieldExtractor(const FieldSet& fields);
  ~EventFieldExtractor();
  EventFieldExtractor(const EventFieldExtractor&) = delete;
  EventFieldExtractor& operator=(const EventFieldExtractor&) = delete;

  // Reads `record` (one JSON value, normally an object) and fills values(). See the contract
  // above for padding, lifetimes and errors.
  Status Extract(std::string_view record);

  // One Value per FieldSet slot, as of the last Extract().
  std::span<const Value> values() const { return values_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<Value> values_;
};

}  // namespace sluice::sql
