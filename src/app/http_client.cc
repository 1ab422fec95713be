#include "app/http_client.h"

#include <array>
#include <atomic>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace sluice::app {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  HttpUrl out;
  std::string_view rest = url;
  uint16_t default_port = 80;
  if (size_t p = rest.find("://"); p != std::string_view::npos) {
    std::string_view scheme = rest.substr(0, p);
    if (scheme == "https" || scheme == "wss")
      return Status::InvalidArgument(fmt::format("'{}': https/wss is not supported", url));
    if (scheme != "http" && scheme != "ws")
      return Status::InvalidArgument(
          fmt::format("'{}': unsupported scheme '{}' (expected http://host:port)", url, scheme));
    rest = rest.substr(p + 3);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.path = std::string(path);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return Status::InvalidArgument(fmt::format("'{}': unterminated IPv6 address", url));
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return Status::InvalidArgument(fmt::format("'{}': expected ':port' after ']'", url));
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::InvalidArgument(fmt::format("'{}': missing host", url));
  out.port = default_port;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return Status::InvalidArgument(fmt::format("'{}': bad port '{}'", url, port_text));
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

namespace {

Status Unavailable(std::string_view what, const std::string& host, uint16_t port,
                   const error_code& ec) {
  return Status::Unavailable(fmt::format("{} {}:{}: {}", what, host, port, ec.message()));
}

// Runs the io_context until the operation started before completes.
void RunOne(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

}  // namespace

// ---- HttpClient ----

struct HttpClient::Impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port;
  std::string host_header;
  std::chrono::milliseconds timeout;
  std::optional<tcp::resolver::results_type> endpoints;
  std::string header;  // reused request head
  bool open = false;
};

HttpClient::HttpClient(std::string host, uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->host_header = impl_->host.find(':') != std::string::npos
                           ? fmt::format("[{}]:{}", impl_->host, port)
                           : fmt::format("{}:{}", impl_->host, port);
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() {
  Close();
}

bool HttpClient::connected() const {
  return impl_->open;
}

void HttpClient::Close() {
  if (!impl_->open) return;
  error_code ignored;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  impl_->stream.close();
  impl_->buffer.clear();
  impl_->open = false;
}

Status HttpClient::Connect() {
  Impl& im = *impl_;
  if (im.open) return Status::Ok();
  error_code ec;
  if (!im.endpoints) {
    tcp::resolver resolver(im.ioc);
    auto results = resolver.resolve(im.host, std::to_string(im.port), ec);
    if (ec) return Unavailable("cannot resolve", im.host, im.port, ec);
    im.endpoints = std::move(results);
  }
  im.stream.expires_after(im.timeout);
  im.stream.async_connect(*im.endpoints,
                          [&](const error_code& e, const tcp::endpoint&) { ec = e; });
  RunOne(im.ioc);
  if (ec) {
    im.stream.close();
    return Unavailable("cannot connect to", im.host, im.port, ec);
  }
  im.stream.socket().set_option(tcp::no_delay(true), ec);
  im.buffer.clear();
  im.open = true;
  return Status::Ok();
}

Result<HttpResponse> HttpClient::Post(std::string_view target, std::string_view content_type,
                                      std::string_view body) {
  return Request("POST", target, content_type, body);
}

Result<HttpResponse> HttpClient::Get(std::string_view target) {
  return Request("GET", target, {}, {});
}

Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         std::string_view content_type, std::string_view body) {
  Impl& im = *impl_;
  std::string& h = im.header;
  h.clear();
  h.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  h.append(im.host_header).append("\r\nUser-Agent: sluice\r\nAccept: application/json\r\n");
  if (method != "GET") {
    if (!content_type.empty()) h.append("Content-Type: ").append(content_type).append("\r\n");
    h.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  h.append("\r\n");

  for (int attempt = 0;; ++attempt) {
    bool reused = im.open;
    SLUICE_RETURN_IF_ERROR(Connect());
    error_code ec;
    std::array<asio::const_buffer, 2> buffers{asio::buffer(h), asio::buffer(body)};
    im.stream.expires_after(im.timeout);
    asio::async_write(im.stream, buffers, [&](const error_code& e, size_t) { ec = e; });
    RunOne(im.ioc);
    if (ec) {
      Close();
      if (reused && attempt == 0 && ec != beast::error::timeout) continue;
      return Unavailable("cannot send to", im.host, im.port, ec);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    parser.header_limit(64u << 10);
    if (method == "HEAD") parser.skip(true);
    im.stream.expires_after(im.timeout);
    http::async_read(im.stream, im.buffer, parser, [&](const error_code& e, size_t) { ec = e; });
    RunOne(im.ioc);
    if (ec) {
      bool nothing_received = !parser.got_some();
      Close();
      // The server closed an idle keep-alive connection: the request was not processed.
      if (reused && attempt == 0 && nothing_received &&
          (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::eof || ec == asio::error::broken_pipe))
        continue;
      return Unavailable("no answer from", im.host, im.port, ec);
    }
    http::response<http::string_body> res = parser.release();
    if (!res.keep_alive()) Close();
    return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
  }
}

// ---- WebSocketClient ----

struct WebSocketClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
  std::atomic<bool> shut{false};
  bool open = false;
};

WebSocketClient::WebSocketClient() : impl_(std::make_unique<Impl>()) {}

WebSocketClient::~WebSocketClient() {
  error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

Status WebSocketClient::Connect(const std::string& host, uint16_t port, const std::string& target,
                                std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  im.host = host;
  im.port = port;
  error_code ec;
  tcp::resolver resolver(im.ioc);
  auto endpoints = resolver.resolve(host, std::to_string(port), ec);
  if (ec) return Unavailable("cannot resolve", host, port, ec);
  auto& lowest = beast::get_lowest_layer(im.ws);
  lowest.expires_after(timeout);
  lowest.async_connect(endpoints, [&](const error_code& e, const tcp::endpoint&) { ec = e; });
  RunOne(im.ioc);
  if (ec) return Unavailable("cannot connect to", host, port, ec);
  lowest.socket().set_option(tcp::no_delay(true), ec);
  lowest.expires_never();
  websocket::stream_base::timeout opt =
      websocket::stream_base::timeout::suggested(beast::role_type::client);
  opt.handshake_timeout = timeout;
  im.ws.set_option(opt);
  im.ws.read_message_max(1ull << 30);
  std::string host_header = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                                : fmt::format("{}:{}", host, port);
  websocket::response_type res;
  im.ws.async_handshake(res, host_header, target, [&](const error_code& e) { ec = e; });
  RunOne(im.ioc);
  if (ec) {
    if (res.result_int() != 0 && res.result() != http::status::switching_protocols) {
      return Status::Unavailable(fmt::format("WebSocket upgrade of {} refused by {}:{}: {} {}",
                                             target, host, port, res.result_int(), res.body()));
    }
    return Unavailable("WebSocket handshake with", host, port, ec);
  }
  // From now on the handshake timeout bounds the closing handshake only.
  opt.handshake_timeout = std::chrono::seconds(2);
  im.ws.set_option(opt);
  im.open = true;
  return Status::Ok();
}

Result<std::string> WebSocketClient::Read() {
  std::string message;
  SLUICE_RETURN_IF_ERROR(Read(message));
  return message;
}

Status WebSocketClient::Read(std::string& message) {
  Impl& im = *impl_;
  if (!im.open || im.shut.load()) return Status::Unavailable("WebSocket is closed");
  error_code ec;
  im.buffer.clear();
  im.ws.async_read(im.buffer, [&](const error_code& e, size_t) { ec = e; });
  RunOne(im.ioc);
  if (ec) {
    im.open = false;
    if (im.shut.load()) return Status::Unavailable("WebSocket was shut down");
    return Unavailable("WebSocket read from", im.host, im.port, ec);
  }
  auto data = im.buffer.cdata();
  message.assign(static_cast<const char*>(data.data()), data.size());
  return Status::Ok();
}

Status WebSocketClient::Write(std::string_view message) {
  Impl& im = *impl_;
  if (!im.open) return Status::Unavailable("WebSocket is closed");
  error_code ec;
  im.ws.text(true);
  im.ws.async_write(asio::buffer(message.data(), message.size()),
                    [&](const error_code& e, size_t) { ec = e; });
  RunOne(im.ioc);
  if (ec) return Unavailable("WebSocket write to", im.host, im.port, ec);
  return Status::Ok();
}

void WebSocketClient::Shutdown() {
  Impl& im = *impl_;
  if (im.shut.exchange(true)) return;
  // Posting is thread-safe; the socket is closed on the thread running the io_context (the
  // reader), which cancels its pending read. If nobody runs it, the next Read() fails fast.
  asio::post(im.ioc, [&im] {
    error_code ignored;
    beast::get_lowest_layer(im.ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(im.ws).socket().close(ignored);
  });
}

void WebSocketClient::Close() {
  Impl& im = *impl_;
  if (im.open) {
    error_code ec;
    im.ws.async_close(websocket::close_code::normal, [&](const error_code& e) { ec = e; });
    RunOne(im.ioc);
    im.open = false;
  }
  error_code ignored;
  beast::get_lowest_layer(im.ws).socket().close(ignored);
}

}  // namespace sluice::app
