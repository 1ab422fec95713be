#include "server/http_server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "base/json_writer.h"
#include "base/thread_name.h"
#include "server/assets.h"
#include "server/registry_api.h"
#include "server/session.h"
#include "server/subscription_hub.h"

namespace sluice::server {
namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr auto kDrainTime = std::chrono::seconds(2);  // lingering close, see CloseAfterDraining
constexpr size_t kDrainChunk = 64 * 1024;
// Names the version of the stream's subject to validate a request's events against.
constexpr std::string_view kSchemaVersionHeader = "Sluice-Schema-Version";
// The longest pacing a subscriber may ask for (?batch_ms=). A batch of more deltas than the hub
// sends one by one (FeedLimits::coalesce_after_deltas) arrives as one coalesced delta.
constexpr int kMaxBatchMs = 1000;

using Response = http::response<http::string_body>;

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, message);
  out += '}';
  return out;
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kResourceExhausted:
      return 507;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kFailedPrecondition:
      return 409;
    default:
      return 500;
  }
}

// Splits "/a/b?x=1" into path segments and the query string.
struct Target {
  std::vector<std::string> segments;
  std::string query;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `plus_is_space`: in query strings (form encoding) '+' stands for a space; in paths it is a
// plain '+' (a registry subject may contain one).
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

Target ParseTarget(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  if (q != std::string_view::npos) {
    t.query = std::string(target.substr(q + 1));
    target = target.substr(0, q);
  }
  size_t pos = 0;
  while (pos < target.size()) {
    size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    if (slash > pos)
      t.segments.push_back(PercentDecode(target.substr(pos, slash - pos), /*plus_is_space=*/false));
    pos = slash + 1;
  }
  return t;
}

std::string QueryParam(const std::string& query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string_view pair(query.data() + pos, amp - pos);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos
                 ? ""
                 : PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
    pos = amp + 1;
  }
  return "";
}

std::optional<ingest::BodyFormat> FormatFor(std::string_view content_type) {
  std::string media(content_type.substr(0, content_type.find(';')));
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media == "application/x-ndjson" || media == "application/ndjson" ||
      media == "application/jsonl" || media == "application/x-jsonlines" ||
      media == "application/jsonlines")
    return ingest::BodyFormat::kNdjson;
  if (media == "application/json") return ingest::BodyFormat::kJson;
  return std::nullopt;
}

// Bytes of request bodies in memory across all connections, bounded (ServerOptions::
// max_body_bytes_in_memory). A request is always let in when nothing else is held, so one body
// larger than the bound is still served.
class BodyBudget {
 public:
  explicit BodyBudget(size_t limit) : limit_(limit) {}
  bool TryReserve(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (used != 0 && used + bytes > limit_) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void Release(size_t bytes) {
    if (bytes != 0) used_.fetch_sub(bytes, std::memory_order_relaxed);
  }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const ServerContext& context, const ServerOptions& options,
              BodyBudget& budget, SubscriptionHub& hub, net::io_context& websockets)
      : stream_(std::move(socket)),
        context_(context),
        options_(options),
        budget_(budget),
        hub_(hub),
        websockets_(websockets) {}
  ~HttpSession() { budget_.Release(std::exchange(reserved_, 0)); }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(kIdleTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpSession::OnHeader, shared_from_this()));
  }

  // Bodies with a Content-Length are read straight into one string that already has the
  // padding simdjson needs, in as few large reads as the socket allows: no copy out of Beast's
  // buffer, no per-64-KiB read operation. Chunked bodies take Beast's general path.
  void OnHeader(beast::error_code ec, size_t) {
    if (ec) {
      OnError(ec);
      return;
    }
    const auto length = parser_->content_length();
    const size_t reserve = parser_->chunked() ? options_.max_body_bytes : length.value_or(0);
    if (reserve > 0 && !parser_->is_done()) {
      if (!budget_.TryReserve(reserve)) {
        SendError(503,
                  fmt::format("overloaded: {} MiB of request bodies are already in memory; retry "
                              "this request shortly (Retry-After)",
                              options_.max_body_bytes_in_memory >> 20),
                  false);
        return;
      }
      reserved_ = reserve;
    }
    if (parser_->is_done() || !length || parser_->chunked()) {
      if (parser_->is_done()) {
        OnRequest(parser_->release());
        return;
      }
      http::async_read(stream_, buffer_, *parser_,
                       beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
      return;
    }
    if (*length > options_.max_body_bytes) {
      OnError(http::error::body_limit);
      return;
    }
    body_ = std::string();
    body_.reserve(*length + simdjson::SIMDJSON_PADDING);
    body_.resize(*length);
    const size_t buffered = std::min<size_t>(buffer_.size(), *length);
    net::buffer_copy(net::buffer(body_.data(), buffered), buffer_.data());
    buffer_.consume(buffered);
    if (buffered == *length) {
      OnBody({}, 0);
      return;
    }
    net::async_read(stream_, net::buffer(body_.data() + buffered, *length - buffered),
                    beast::bind_front_handler(&HttpSession::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec) {
      Close();  // the client went away mid-body: nobody to answer
      return;
    }
    http::request<http::string_body> request = parser_->release();
    request.body() = std::move(body_);
    OnRequest(std::move(request));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) {
      OnError(ec);
      return;
    }
    OnRequest(parser_->release());
  }

  void OnError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == http::error::partial_message) {
      Close();  // the client went away: nobody to answer
      return;
    }
    if (ec == http::error::body_limit) {
      SendError(413,
                fmt::format("request body too large: the limit is {} bytes (16 MiB); split the "
                            "events over several requests",
                            options_.max_body_bytes),
                false);
      return;
    }
    SendError(400, fmt::format("malformed HTTP request: {}", ec.message()), false);
  }

  void OnRequest(http::request<http::string_body>&& request) {
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    Route(std::move(request));
    // The body is gone (handled, or moved into an ingest that copied what it keeps).
    budget_.Release(std::exchange(reserved_, 0));
  }

  void Route(http::request<http::string_body>&& req) {
    Target t = ParseTarget(req.target());
    const auto method = req.method();
    auto& seg = t.segments;
    auto need = [&](http::verb verb) {
      if (method == verb || (verb == http::verb::get && method == http::verb::head)) return true;
      SendError(405,
                fmt::format("method {} not allowed on {}; use {}", std::string(req.method_string()),
                            std::string(req.target()), std::string(http::to_string(verb))),
                keep_alive_, std::string(http::to_string(verb)));
      return false;
    };

    if (!seg.empty() && seg[0] == "registry") {
      RegistryHttpResponse res =
          HandleRegistryRequest(context_.registry, req.method_string(),
                                std::span<const std::string>(seg).subspan(1), t.query, req.body());
      Send(res.status, std::move(res.content_type), std::move(res.body));
      return;
    }
    if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "streams" && seg[3] == "events") {
      if (need(http::verb::post)) HandleIngest(seg[2], std::move(req));
      return;
    }
    if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "streams" && seg[3] == "dead-letters") {
      if (need(http::verb::get)) HandleListDeadLetters(seg[2], t.query);
      return;
    }
    if (seg.size() == 5 && seg[0] == "v1" && seg[1] == "streams" && seg[3] == "dead-letters" &&
        seg[4] == "replay") {
      if (need(http::verb::post)) HandleReplayDeadLetters(seg[2], t.query);
      return;
    }
    if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "tables" && seg[3] == "rows" &&
        context_.table_rows) {
      if (method != http::verb::put && !need(http::verb::get)) return;
      const std::string_view verb = method == http::verb::put ? "PUT" : "GET";
      SqlAnswer answer =
          context_.table_rows(verb, seg[2], req[http::field::content_type], req.body());
      SendJson(answer.status, std::move(answer.body));
      return;
    }
    if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "sql" && context_.sql) {
      if (need(http::verb::post)) HandleSql(std::move(req));
      return;
    }
    if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "subscribe") {
      if (!need(http::verb::get)) return;
      std::string view_name = QueryParam(t.query, "view");
      std::shared_ptr<store::View> view = context_.views->Find(view_name);
      if (view == nullptr) {
        SendError(404,
                  view_name.empty() ? "missing query parameter 'view'"
                                    : fmt::format("unknown view '{}'", view_name),
                  keep_alive_);
        return;
      }
      Subscription subscription;
      subscription.where = QueryParam(t.query, "where");
      if (!CompileFilter(view_name, subscription.where, subscription.filter)) return;
      if (const std::string batch = QueryParam(t.query, "batch_ms"); !batch.empty()) {
        int ms = -1;
        auto [end, ec] = std::from_chars(batch.data(), batch.data() + batch.size(), ms);
        if (ec != std::errc() || end != batch.data() + batch.size() || ms < 0 || ms > kMaxBatchMs) {
          SendError(400,
                    fmt::format("batch_ms: '{}' is not a whole number of milliseconds from 0 "
                                "to {}",
                                batch, kMaxBatchMs),
                    keep_alive_);
          return;
        }
        subscription.batch = std::chrono::milliseconds(ms);
      }
      subscription.ping_interval = options_.websocket_ping_interval;
      if (!boost::beast::websocket::is_upgrade(req)) {
        SendError(426, "this endpoint speaks WebSocket: send an Upgrade request", keep_alive_);
        return;
      }
      // Subscribers live on their own I/O thread: pushing deltas to many clients competes with
      // ingest for CPU only through the scheduler, never by delaying the ingest connections'
      // handlers (and a busy push thread lets its clients fall behind and be coalesced).
      tcp::socket socket = stream_.release_socket();
      beast::error_code ec;
      const auto protocol = socket.local_endpoint(ec).protocol();
      const auto handle = socket.release(ec);
      if (ec) return;
      tcp::socket moved(websockets_);
      moved.assign(protocol, handle, ec);
      if (ec) {
        ::close(handle);
        return;
      }
      net::post(websockets_, [socket = std::move(moved), req = std::move(req),
                              view = std::move(view), subscription = std::move(subscription),
                              &hub = hub_, metrics = context_.metrics]() mutable {
        StartWebSocketSession(std::move(socket), std::move(req), std::move(view),
                              std::move(subscription), hub, metrics);
      });
      return;
    }
    if (seg.size() == 4 && seg[0] == "v1" && seg[1] == "views" && seg[3] == "late-events" &&
        context_.late_events) {
      if (need(http::verb::get)) HandleListLateEvents(seg[2], t.query);
      return;
    }
    if (seg.size() >= 2 && seg[0] == "v1" && seg[1] == "views") {
      if (!need(http::verb::get)) return;
      if (seg.size() == 2) {
        SendJson(200, ViewsListJson());
        return;
      }
      std::shared_ptr<store::View> view = seg.size() == 3 ? context_.views->Find(seg[2]) : nullptr;
      if (view == nullptr) {
        SendError(404, fmt::format("unknown view '{}'", seg.size() == 3 ? seg[2] : ""),
                  keep_alive_);
        return;
      }
      if (Status available = view->Available(); !available.ok()) {
        SendError(HttpStatusFor(available), available.message(), keep_alive_);
        return;
      }
      store::RowFilter filter;  // none: every row
      if (!CompileFilter(seg[2], QueryParam(t.query, "where"), filter)) return;
      Result<std::string> snapshot =
          view->SnapshotJson(filter.keep, nullptr, filter.from, filter.to);
      if (!snapshot.ok()) {
        SendError(HttpStatusFor(snapshot.status()),
                  fmt::format("reading view '{}': {}", seg[2], snapshot.status().message()),
                  keep_alive_);
        return;
      }
      SendJson(200, std::move(snapshot).value());
      return;
    }
    if (seg.size() == 1 && seg[0] == "healthz") {
      if (need(http::verb::get)) SendJson(200, "{\"status\":\"ok\"}");
      return;
    }
    if (seg.size() == 1 && seg[0] == "readyz") {
      if (!need(http::verb::get)) return;
      bool ready = !context_.ready || context_.ready();
      SendJson(ready ? 200 : 503, ready ? "{\"status\":\"ready\"}" : "{\"status\":\"starting\"}");
      return;
    }
    if (seg.size() == 1 && seg[0] == "metrics") {
      if (need(http::verb::get))
        Send(200, "text/plain; version=0.0.4; charset=utf-8", context_.metrics->RenderPrometheus());
      return;
    }
    if (seg.empty() || (seg.size() == 1 && seg[0] == "index.html") ||
        (seg.size() == 2 && seg[0] == "assets")) {
      if (!need(http::verb::get)) return;
      const Asset* asset = FindAsset(seg.size() == 2 ? seg[1] : "index.html");
      if (asset == nullptr) {
        SendError(404, fmt::format("no such file: {}", std::string(req.target())), keep_alive_);
        return;
      }
      Send(200, std::string(asset->content_type), std::string(asset->data));
      return;
    }
    SendError(404,
              fmt::format("no such endpoint: {} (see docs/http-api.md)", std::string(req.target())),
              keep_alive_);
  }

  // Compiles a where= filter for `view` into `filter` (left empty without one); false (after
  // answering 400) when it does not compile.
  bool CompileFilter(const std::string& view, const std::string& where, store::RowFilter& filter) {
    if (where.empty()) return true;
    if (!context_.compile_filter) {
      SendError(400, "this server does not support where= filters", keep_alive_);
      return false;
    }
    Result<store::RowFilter> compiled = context_.compile_filter(view, where);
    if (!compiled.ok()) {
      SendError(HttpStatusFor(compiled.status()), compiled.status().message(), keep_alive_);
      return false;
    }
    filter = std::move(compiled).value();
    return true;
  }

  std::string ViewsListJson() const {
    std::string out = "{\"views\":[";
    bool first = true;
    for (const std::shared_ptr<store::View>& v : context_.views->All()) {
      if (!first) out += ',';
      first = false;
      const auto& d = v->definition();
      out += "{\"name\":";
      AppendJsonString(out, d.name);
      out += ",\"columns\":[";
      for (size_t i = 0; i < d.columns.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(out, d.columns[i]);
      }
      out += "],\"key\":[";
      for (size_t i = 0; i < d.key_columns.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(out, d.key_columns[i]);
      }
      const Status available = v->Available();
      out += fmt::format("],\"version\":{},\"rows\":{},\"state\":\"{}\",\"sql\":", v->version(),
                         v->row_count(),
                         available.ok()                                 ? "ready"
                         : available.code() == StatusCode::kUnavailable ? "restoring"
                                                                        : "failed");
      AppendJsonString(out, d.sql);
      out += '}';
    }
    out += "]}";
    return out;
  }

  void HandleIngest(const std::string& stream, http::request<http::string_body>&& req) {
    if (!context_.ingestor->HasStream(stream)) {
      SendError(404, fmt::format("unknown stream '{}'", stream), keep_alive_);
      return;
    }
    auto content_type = req[http::field::content_type];
    auto format = FormatFor(content_type);
    if (!format) {
      SendError(415,
                fmt::format("unsupported Content-Type '{}': send application/x-ndjson (one event "
                            "per line) or application/json (an array of events)",
                            std::string(content_type)),
                keep_alive_);
      return;
    }
    ingest::IngestOptions options;
    if (auto version = req.find(kSchemaVersionHeader); version != req.end()) {
      int v = 0;
      const std::string_view text = version->value();
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v < 1) {
        SendError(400,
                  fmt::format("header {}: '{}' is not a schema version (a positive integer)",
                              kSchemaVersionHeader, text),
                  keep_alive_);
        return;
      }
      options.schema_version = v;
    }
    std::string body = std::move(req.body());
    if (body.capacity() < body.size() + simdjson::SIMDJSON_PADDING)  // chunked bodies
      body.reserve(body.size() + simdjson::SIMDJSON_PADDING);        // simdjson reads past the end
    auto self = shared_from_this();
    context_.ingestor->Ingest(
        stream, *format, body, options, [self](Result<ingest::IngestAnswer> answer) {
          // Runs on the syncer thread: hop back onto this connection's strand.
          net::post(self->stream_.get_executor(), [self, answer = std::move(answer)]() {
            if (answer.ok()) {
              self->SendJson(200, answer->ToJson());
            } else if (answer.status().code() == StatusCode::kResourceExhausted) {
              self->SendError(507,
                              "disk full: the request was not acknowledged; retry it once space "
                              "is freed (the server resumes by itself; events of it already "
                              "stored are deduplicated on exactly-once streams): " +
                                  answer.status().message(),
                              self->keep_alive_);
            } else {
              self->SendError(HttpStatusFor(answer.status()), answer.status().message(),
                              self->keep_alive_);
            }
          });
        });
  }

  // POST /v1/sql: the body is the SQL text (application/sql, text/plain, or no Content-Type),
  // or {"sql":"..."} (application/json).
  void HandleSql(http::request<http::string_body>&& req) {
    std::string media(
        req[http::field::content_type].substr(0, req[http::field::content_type].find(';')));
    std::transform(media.begin(), media.end(), media.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!media.empty() && media.back() == ' ') media.pop_back();
    std::string body = std::move(req.body());
    std::string sql;
    if (media == "application/json") {
      body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
      simdjson::ondemand::parser parser;
      simdjson::ondemand::document doc;
      std::string_view text;
      if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
              .get(doc) ||
          doc["sql"].get_string().get(text)) {
        SendError(400, "the JSON body must be an object with a string \"sql\": {\"sql\":\"...\"}",
                  keep_alive_);
        return;
      }
      sql.assign(text);
    } else if (media.empty() || media == "application/sql" || media == "text/plain") {
      sql = std::move(body);
    } else {
      SendError(415,
                fmt::format("unsupported Content-Type '{}': send the SQL text as application/sql "
                            "or text/plain, or {{\"sql\":\"...\"}} as application/json",
                            media),
                keep_alive_);
      return;
    }
    SqlAnswer answer = context_.sql(sql);
    SendJson(answer.status, std::move(answer.body));
  }

  // Parses an optional unsigned query parameter; false (after answering 400) when malformed.
  bool UnsignedParam(const std::string& query, std::string_view name,
                     std::optional<uint64_t>& out) {
    const std::string text = QueryParam(query, name);
    if (text.empty()) return true;
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
      SendError(
          400,
          fmt::format("query parameter '{}' must be a non-negative integer, not '{}'", name, text),
          keep_alive_);
      return false;
    }
    out = value;
    return true;
  }

  static constexpr uint64_t kMaxDeadLettersPerCall = 10000;

  void HandleListDeadLetters(const std::string& stream, const std::string& query) {
    std::optional<uint64_t> from, limit;
    if (!UnsignedParam(query, "from", from) || !UnsignedParam(query, "limit", limit)) return;
    auto page = context_.ingestor->ListDeadLetters(
        stream, from.value_or(0), std::min(limit.value_or(100), kMaxDeadLettersPerCall));
    if (!page.ok()) {
      SendError(HttpStatusFor(page.status()), page.status().message(), keep_alive_);
      return;
    }
    SendJson(200, page->ToJson(stream));
  }

  void HandleListLateEvents(const std::string& view, const std::string& query) {
    std::optional<uint64_t> from, limit;
    if (!UnsignedParam(query, "from", from) || !UnsignedParam(query, "limit", limit)) return;
    auto page = context_.late_events(view, from.value_or(0),
                                     std::min(limit.value_or(100), kMaxDeadLettersPerCall));
    if (!page.ok()) {
      SendError(HttpStatusFor(page.status()), page.status().message(), keep_alive_);
      return;
    }
    SendJson(200, std::move(page).value());
  }

  // Blocks this I/O thread for one group commit: replays are rare, operator-driven calls.
  void HandleReplayDeadLetters(const std::string& stream, const std::string& query) {
    std::optional<uint64_t> from, limit;
    if (!UnsignedParam(query, "from", from) || !UnsignedParam(query, "limit", limit)) return;
    auto answer = context_.ingestor->ReplayDeadLetters(
        stream, from, std::min(limit.value_or(kMaxDeadLettersPerCall), kMaxDeadLettersPerCall));
    if (!answer.ok()) {
      SendError(HttpStatusFor(answer.status()), answer.status().message(), keep_alive_);
      return;
    }
    SendJson(200, answer->ToJson());
  }

  void SendJson(int status, std::string body) { Send(status, "application/json", std::move(body)); }

  void SendError(int status, std::string_view message, bool keep_alive, std::string allow = {}) {
    keep_alive_ = keep_alive;
    if (status == 413 || status == 400) keep_alive_ = false;
    auto res =
        std::make_shared<Response>(static_cast<http::status>(status), version_ ? version_ : 11);
    if (!allow.empty()) res->set(http::field::allow, allow);
    // Overload and a full disk pass: a client may retry (the request had no effect it relies on).
    if (status == 429 || status == 503 || status == 507) res->set(http::field::retry_after, "1");
    Prepare(*res, "application/json", ErrorJson(message));
    Write(std::move(res));
  }

  void Send(int status, std::string content_type, std::string body) {
    auto res = std::make_shared<Response>(static_cast<http::status>(status), version_);
    Prepare(*res, content_type, std::move(body));
    Write(std::move(res));
  }

  void Prepare(Response& res, std::string_view content_type, std::string body) {
    res.set(http::field::server, "sluice");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive_);
    res.body() = std::move(body);
    res.prepare_payload();
  }

  void Write(std::shared_ptr<Response> res) {
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec) {
                          self->Close();
                          return;
                        }
                        if (!res->keep_alive()) {
                          self->CloseAfterDraining();
                          return;
                        }
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
  }

  // A "lingering close": after the last response, stop sending but read and discard what the
  // client is still sending (the rest of a refused 16+ MiB body, say) for a short while.
  // Closing with unread input makes the kernel answer with a reset, which can destroy the
  // response before the client reads it: the client would see "broken pipe" instead of 413.
  void CloseAfterDraining() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    drain_deadline_ = std::chrono::steady_clock::now() + kDrainTime;
    Drain();
  }

  void Drain() {
    const auto left = drain_deadline_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      Close();
      return;
    }
    stream_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    if (body_.size() < kDrainChunk) body_.resize(kDrainChunk);
    stream_.async_read_some(net::buffer(body_.data(), kDrainChunk),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->Close();  // EOF, reset or the deadline
                                return;
                              }
                              self->Drain();
                            });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string body_;  // the request body being read; scratch space while draining
  std::chrono::steady_clock::time_point drain_deadline_;
  const ServerContext& context_;
  const ServerOptions& options_;
  BodyBudget& budget_;
  SubscriptionHub& hub_;
  net::io_context& websockets_;
  size_t reserved_ = 0;  // of budget_, for the request being read or handled
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

// One io_context per thread, each run by exactly one thread: a connection lives on one
// context for its whole life, so its handlers never contend with other threads (no strands, no
// cross-thread wake-ups); new connections are spread round-robin.
struct HttpServer::Impl {
  ServerContext context;
  ServerOptions options;
  // Declared before the contexts: WebSocket sessions (destroyed with the contexts) leave it.
  std::unique_ptr<SubscriptionHub> hub;
  // The HTTP threads' contexts, then one more for WebSocket subscribers (the last).
  std::vector<std::unique_ptr<net::io_context>> contexts;
  size_t http_contexts = 0;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<uint16_t> port{0};
  size_t next_context = 0;
  std::unique_ptr<BodyBudget> budget;

  void Accept() {
    net::io_context& target = *contexts[next_context++ % http_contexts];
    acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        socket.set_option(net::socket_base::receive_buffer_size(1 << 20), ignored);
        std::make_shared<HttpSession>(std::move(socket), context, options, *budget, *hub,
                                      *contexts.back())
            ->Run();
      } else {
        spdlog::warn("accept failed: {}", ec.message());
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(ServerContext context, ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->context = std::move(context);
  impl_->options = std::move(options);
  impl_->budget = std::make_unique<BodyBudget>(impl_->options.max_body_bytes_in_memory);
  FeedLimits limits;
  limits.max_deltas = impl_->options.delta_log_max_deltas;
  limits.max_bytes = impl_->options.delta_log_max_bytes;
  impl_->hub = std::make_unique<SubscriptionHub>(limits);
}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::Start() {
  const int n = std::max(1, impl_->options.threads);
  for (int i = 0; i <= n; ++i) impl_->contexts.push_back(std::make_unique<net::io_context>(1));
  impl_->http_contexts = static_cast<size_t>(n);
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.address, ec);
  if (ec) return Status::InvalidArgument("bad listen address " + impl_->options.address);
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->contexts[0]);
  auto& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Unavailable(fmt::format("cannot listen on {}:{}: {}", impl_->options.address,
                                           impl_->options.port, ec.message()));
  impl_->port = acceptor.local_endpoint().port();
  impl_->Accept();
  for (auto& ctx : impl_->contexts) {
    net::io_context* c = ctx.get();
    const size_t i = impl_->threads.size();
    const std::string name = i < impl_->http_contexts ? "http-" + std::to_string(i) : "websocket";
    impl_->threads.emplace_back([c, name] {
      SetCurrentThreadName(name);
      auto guard = net::make_work_guard(*c);  // idle contexts keep running until Stop()
      c->run();
    });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

void HttpServer::Stop() {
  if (impl_->threads.empty()) return;
  net::post(*impl_->contexts[0], [this] {
    beast::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  for (auto& ctx : impl_->contexts) ctx->stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace sluice::server
