// Small synchronous clients for Sluice's HTTP API, used by `sluice gen`, `sluice bench` and
// tests: an HTTP/1.1 keep-alive client and a WebSocket client (Boost.Beast underneath, hidden
// from this header). Neither is thread-safe, except WebSocketClient::Shutdown().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::app {

struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path;  // "" or a prefix such as "/sluice" (no trailing slash)
};

// Parses "http://host:port", "http://host", "host:port", "ws://host:port/prefix",
// "http://[::1]:8080". https/wss are not supported (InvalidArgument).
Result<HttpUrl> ParseHttpUrl(std::string_view url);

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  // Connects lazily, on the first request. `timeout` bounds each connect, write and read.
  HttpClient(std::string host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request on the keep-alive connection (opening it if needed). If a reused
  // connection turns out to be broken (the server closed it while idle), reconnects and
  // retries once. Any HTTP status is a successful Result; transport failures and timeouts are
  // kUnavailable. `body` is not copied.
  Result<HttpResponse> Post(std::string_view target, std::string_view content_type,
                            std::string_view body);
  Result<HttpResponse> Get(std::string_view target);

  // Opens the connection now (Post/Get do it when needed).
  Status Connect();
  void Close();
  bool connected() const;

 private:
  struct Impl;
  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               std::string_view content_type, std::string_view body);
  std::unique_ptr<Impl> impl_;
};

class WebSocketClient {
 public:
  WebSocketClient();
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Connects and performs the upgrade for `target` (e.g. "/v1/subscribe?view=x"). A refused
  // upgrade reports the HTTP status and body the server answered.
  Status Connect(const std::string& host, uint16_t port, const std::string& target,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Blocks until the next whole message arrives.
  Result<std::string> Read();
  // Same, reusing `message`'s storage.
  Status Read(std::string& message);
  // Sends a text message.
  Status Write(std::string_view message);
  // Thread-safe: makes a Read() blocked on another thread return an error, and closes the
  // connection.
  void Shutdown();
  // Sends a close frame (best effort) and closes the connection.
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::app
