#include "app/sql_cli.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/http_client.h"

namespace sluice::app {
namespace {

using Json = nlohmann::ordered_json;

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count code points, not bytes
  return n;
}

std::string CellText(const Json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A psql-style table:
//  name       | rows
// ------------+------
//  fulfilment |   42
void PrintTable(const Json& columns, const Json& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  std::vector<bool> numeric(columns.size(), true);
  for (const Json& c : columns) widths.push_back(DisplayWidth(c.get<std::string>()));
  for (const Json& row : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < columns.size(); ++i) {
      const Json& v = i < row.size() ? row[i] : Json();
      if (!v.is_number() && !v.is_null()) numeric[i] = false;
      line.push_back(CellText(v));
      widths[i] = std::max(widths[i], DisplayWidth(line.back()));
    }
    cells.push_back(std::move(line));
  }
  auto pad = [](const std::string& s, size_t width, bool right) {
    const std::string fill(width - DisplayWidth(s), ' ');
    return right ? fill + s : s + fill;
  };
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    out += i ? " | " : " ";
    out += pad(columns[i].get<std::string>(), widths[i], false);
  }
  out += "\n";
  for (size_t i = 0; i < columns.size(); ++i) {
    out += i ? "-+-" : "-";
    out += std::string(widths[i], '-');
  }
  out += "-\n";
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) {
      out += i ? " | " : " ";
      out += pad(line[i], widths[i], numeric[i]);
    }
    out += "\n";
  }
  out += fmt::format("({} row{})\n", cells.size(), cells.size() == 1 ? "" : "s");
  std::fputs(out.c_str(), stdout);
}

void PrintResult(const Json& result) {
  if (result.contains("columns") && result.contains("rows") && result["rows"].is_array())
    PrintTable(result["columns"], result["rows"]);
  if (result.contains("options")) {
    for (const auto& [key, value] : result["options"].items())
      std::printf("  %s = %s\n", key.c_str(), CellText(value).c_str());
  }
  if (result.contains("sql")) std::printf("%s\n", result["sql"].get<std::string>().c_str());
  if (result.contains("message")) std::printf("%s\n", result["message"].get<std::string>().c_str());
  std::printf("\n");
}

// The error, then the line of the SQL it points at with a caret under the column.
void PrintError(const Json& answer, const std::string& sql) {
  std::fprintf(stderr, "error: %s\n", answer.value("error", std::string("unknown error")).c_str());
  if (!answer.contains("line") || !answer.contains("column")) return;
  const int line = answer["line"].get<int>();
  const int column = answer["column"].get<int>();
  std::vector<std::string> lines;
  std::istringstream in(sql);
  for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  if (line < 1 || static_cast<size_t>(line) > lines.size()) return;
  const std::string& text = lines[static_cast<size_t>(line) - 1];
  std::string caret;
  size_t code_points = 0;
  for (unsigned char c : text) {  // columns count code points; keep tabs so the caret lines up
    if ((c & 0xC0) == 0x80) continue;
    if (++code_points >= static_cast<size_t>(column)) break;
    caret += c == '\t' ? '\t' : ' ';
  }
  std::fprintf(stderr, "  %s\n  %s^\n", text.c_str(), caret.c_str());
}

}  // namespace

void AddSqlCliOptions(CLI::App* sub, SqlCliOptions& options) {
  sub->add_option("--url", options.url, "Server URL (default http://127.0.0.1:8080)");
  sub->add_option("-f,--file", options.file, "Read the statements from this file ('-': stdin)");
  sub->add_flag("--json", options.json, "Print the server's JSON answer instead of tables");
  sub->add_option("statements", options.statements,
                  "SQL statements (each argument may hold several, separated by ';'); without "
                  "arguments or -f, statements are read from standard input");
  sub->footer(
      "Examples:\n"
      "  sluice sql 'SHOW VIEWS'\n"
      "  sluice sql \"CREATE STREAM orders WITH (event_time = 'placed_at')\"\n"
      "  sluice sql -f views.sql --url http://sluice:8080");
}

int RunSqlCli(const SqlCliOptions& options) {
  std::string sql;
  if (!options.file.empty() && !options.statements.empty()) {
    std::fprintf(stderr, "sluice sql: give statements as arguments or with -f, not both\n");
    return 2;
  }
  if (!options.statements.empty()) {
    for (const std::string& s : options.statements) sql += s + ";\n";
  } else if (!options.file.empty() && options.file != "-") {
    std::ifstream in(options.file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "sluice sql: cannot read %s\n", options.file.c_str());
      return 2;
    }
    sql.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    sql.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto url = ParseHttpUrl(options.url);
  if (!url.ok()) {
    std::fprintf(stderr, "sluice sql: %s\n", url.status().message().c_str());
    return 2;
  }
  HttpClient client(url->host, url->port);
  auto response = client.Post(url->path + "/v1/sql", "application/sql", sql);
  if (!response.ok()) {
    std::fprintf(stderr, "sluice sql: cannot reach %s: %s\n", options.url.c_str(),
                 response.status().message().c_str());
    return 2;
  }
  if (options.json) {
    std::printf("%s\n", response->body.c_str());
    return response->status == 200 ? 0 : 1;
  }
  Json answer = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object()) {
    std::fprintf(stderr, "sluice sql: unexpected answer (HTTP %d): %s\n", response->status,
                 response->body.c_str());
    return response->status == 200 ? 2 : 1;
  }
  if (answer.contains("results"))
    for (const Json& result : answer["results"]) PrintResult(result);
  if (response->status != 200) {
    PrintError(answer, sql);
    return 1;
  }
  return 0;
}

}  // namespace sluice::app
