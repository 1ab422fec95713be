// libFuzzer target: arbitrary bytes as SQL text. Parsing must never crash, hang or overflow the
// stack; a failure must carry a "line L, column C: ..." message; and every statement that parses
// must print (in both parenthesis modes) to SQL that parses back to an equal tree and prints the
// same again. The last property is what lets the engine persist definitions as ToSql() text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sql/parser.h"

namespace {

void CheckRoundTrip(const sluice::sql::Statement& statement, sluice::sql::Parentheses mode) {
  std::string printed = sluice::sql::ToSql(statement, mode);
  sluice::Result<std::vector<sluice::sql::Statement>> reparsed = sluice::sql::Parse(printed);
  if (!reparsed.ok() || reparsed->size() != 1) __builtin_trap();
  if (!(reparsed->front() == statement)) __builtin_trap();
  if (sluice::sql::ToSql(reparsed->front(), mode) != printed) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  sluice::Result<std::vector<sluice::sql::Statement>> parsed = sluice::sql::Parse(sql);
  if (!parsed.ok()) {
    if (parsed.status().message().rfind("line ", 0) != 0) __builtin_trap();
    return 0;
  }
  for (const sluice::sql::Statement& statement : *parsed) {
    CheckRoundTrip(statement, sluice::sql::Parentheses::kMinimal);
    CheckRoundTrip(statement, sluice::sql::Parentheses::kAll);
  }
  return 0;
}
