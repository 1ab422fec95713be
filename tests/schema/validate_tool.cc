// Test-only CLI behind the differential test against ajv: validates NDJSON events from stdin
// against a JSON Schema file and prints one line per input line, "ok" or "error <message>"
// (line breaks in messages escaped). A schema that does not compile: its message on stderr and
// exit status 2.
//
// Usage: schema_validate_tool SCHEMA_FILE < events.ndjson
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "schema/json_schema.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: schema_validate_tool SCHEMA_FILE < events.ndjson\n";
    return 64;
  }
  std::ifstream file(argv[1], std::ios::binary);
  if (!file) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 66;
  }
  std::stringstream text;
  text << file.rdbuf();
  auto schema = sluice::schema::CompileJsonSchema(text.str());
  if (!schema.ok()) {
    std::cerr << schema.status().message() << "\n";
    return 2;
  }
  sluice::schema::JsonSchemaValidator validator(schema.value());
  std::ios::sync_with_stdio(false);
  std::string line, record, out;
  while (std::getline(std::cin, line)) {
    record.assign(line);
    record.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    sluice::Status status = validator.Validate(record);
    if (status.ok()) {
      out += "ok\n";
    } else {
      out += "error ";
      for (char c : status.message()) {
        if (c == '\n') {
          out += "\\n";
        } else if (c == '\r') {
          out += "\\r";
        } else {
          out += c;
        }
      }
      out += '\n';
    }
    if (out.size() > (1 << 16)) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out;
  return 0;
}
