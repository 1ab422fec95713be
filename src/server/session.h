// Internal to the server module: what the HTTP session and the WebSocket session share.
#pragma once

#include <chrono>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "server/http_server.h"

namespace sluice::server {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

class SubscriptionHub;

// What a subscriber asked for besides the view: an optional filter (?where=) and pacing
// (?batch_ms=), and how the server keeps the connection alive.
struct Subscription {
  std::string where;        // the filter's text; empty: every row
  store::RowFilter filter;  // compiled from `where`; empty: every row
  // At most one write per this many milliseconds, carrying every delta that arrived meanwhile
  // (each still its own message); 0: each delta is written as soon as the client can take it.
  std::chrono::milliseconds batch{0};
  // A ping after this long without a write, so that a vanished client is noticed (the socket's
  // TCP_USER_TIMEOUT then closes it) and idle proxies keep the connection.
  std::chrono::milliseconds ping_interval{30000};
};

// Takes over a connection whose request asked for a WebSocket upgrade to /v1/subscribe.
// `view` must exist (the HTTP session answers 404 otherwise); `hub` must outlive the session.
void StartWebSocketSession(tcp::socket socket, http::request<http::string_body> request,
                           std::shared_ptr<store::View> view, Subscription subscription,
                           SubscriptionHub& hub, MetricsRegistry* metrics);

}  // namespace sluice::server
