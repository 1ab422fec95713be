// `sluice sql`: sends SQL statements to a running server (POST /v1/sql) and prints the results
// as tables, or the server's JSON with --json. Statements come from the arguments, from a
// file (-f), or from standard input. See docs/sql.md.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sluice::app {

struct SqlCliOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string file;                     // -f: read statements from this file ("-" = stdin)
  std::vector<std::string> statements;  // positional: each one or more statements
  bool json = false;                    // print the server's answer as is
};

void AddSqlCliOptions(CLI::App* sub, SqlCliOptions& options);

// Returns the exit code: 0 when every statement succeeded, 1 when the server refused one (the
// error is printed with its line and column, and the offending line of the SQL), 2 when the
// statements could not be read or sent.
int RunSqlCli(const SqlCliOptions& options);

}  // namespace sluice::app
