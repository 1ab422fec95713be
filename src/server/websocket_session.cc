// WebSocket subscriptions: a snapshot, then deltas in version order (docs/http-api.md).
//
// The session is a member of its view's feed (subscription_hub.h): it holds a cursor (the
// version its client has) and at most one message in flight. Whenever it is not writing and
// the feed has something newer, it sends the next delta, or one coalesced delta when it fell
// several behind, or a fresh snapshot in place when it fell off the feed's log. A slow client
// therefore never queues memory, never slows the pipeline or other clients, and is never closed
// for being slow.
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "server/session.h"
#include "server/subscription_hub.h"

namespace sluice::server {
namespace {

namespace websocket = boost::beast::websocket;

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession>, public FeedMember {
 public:
  WebSocketSession(tcp::socket socket, std::shared_ptr<store::View> view, Subscription subscription,
                   SubscriptionHub& hub, MetricsRegistry* metrics)
      : ws_(std::move(socket)),
        view_(std::move(view)),
        subscription_(std::move(subscription)),
        hub_(hub) {
    subscribers_ =
        metrics->GetGauge("sluice_websocket_subscribers", "Open WebSocket subscriptions");
    // Kept for dashboards that chart it: clients are no longer closed for being slow.
    metrics->GetCounter("sluice_websocket_slow_client_closes_total",
                        "Subscribers closed because they fell too far behind (no longer happens: "
                        "they get coalesced deltas or a fresh snapshot)");
    coalesced_ = metrics->GetCounter(
        "sluice_websocket_coalesced_total",
        "Deltas sent to a subscriber that was behind, merging several versions into one");
    resyncs_ = metrics->GetCounter(
        "sluice_websocket_resyncs_total",
        "Fresh snapshots sent in place to a subscriber that fell behind the delta log");
  }

  ~WebSocketSession() {
    if (feed_ != nullptr) {
      hub_.Leave(feed_, this);
      subscribers_->Add(-1);
    }
  }

  void Run(http::request<http::string_body> request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "sluice"); }));
    ws_.text(true);
    ws_.async_accept(request,
                     beast::bind_front_handler(&WebSocketSession::OnAccept, shared_from_this()));
  }

  void Wake() override { Pump(); }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    feed_ = hub_.Join(view_, ws_.get_executor(), this);
    channel_ = feed_->Channel(subscription_.where, std::move(subscription_.filter));
    subscribers_->Add(1);
    Pump();
    ReadLoop();
  }

  // Sends what the feed has for our cursor, unless a write is in flight (its completion pumps).
  void Pump() {
    if (writing_ || closing_ || feed_ == nullptr) return;
    FeedMessage message = feed_->Next(*channel_, cursor_);
    switch (message.kind) {
      case FeedMessage::Kind::kNothing:
        return;
      case FeedMessage::Kind::kSnapshot:
        if (message.resync) resyncs_->Add();
        break;
      case FeedMessage::Kind::kDelta:
        if (message.coalesced) coalesced_->Add();
        break;
      case FeedMessage::Kind::kDropped:
        view_dropped_ = true;
        break;
    }
    in_flight_ = std::move(message.text);
    writing_ = true;
    ws_.async_write(net::buffer(*in_flight_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      self->in_flight_.reset();
                      if (ec) {
                        self->closing_ = true;
                        return;
                      }
                      if (self->view_dropped_) {
                        self->closing_ = true;
                        self->ws_.async_close(
                            websocket::close_reason(websocket::close_code::normal, "view dropped"),
                            [self](beast::error_code) {});
                        return;
                      }
                      self->Pump();
                    });
  }

  // Subscribers don't send anything we act on; reading keeps control frames (ping/close)
  // flowing and tells us when the client goes away.
  void ReadLoop() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->closing_ = true;
        return;
      }
      self->read_buffer_.consume(self->read_buffer_.size());
      self->ReadLoop();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<store::View> view_;  // kept alive while subscribed, even once dropped
  Subscription subscription_;
  SubscriptionHub& hub_;
  std::shared_ptr<ViewFeed> feed_;
  std::shared_ptr<FeedChannel> channel_;
  FeedCursor cursor_;                             // what the client holds
  std::shared_ptr<const std::string> in_flight_;  // the message being written
  beast::flat_buffer read_buffer_;
  bool writing_ = false;       // an async_write of in_flight_ is in progress
  bool closing_ = false;       // nothing more is sent
  bool view_dropped_ = false;  // the "dropped" message is in flight: close after it
  Gauge* subscribers_;
  Counter* coalesced_;
  Counter* resyncs_;
};

}  // namespace

void StartWebSocketSession(tcp::socket socket, http::request<http::string_body> request,
                           std::shared_ptr<store::View> view, Subscription subscription,
                           SubscriptionHub& hub, MetricsRegistry* metrics) {
  auto session = std::make_shared<WebSocketSession>(std::move(socket), std::move(view),
                                                    std::move(subscription), hub, metrics);
  session->Run(std::move(request));
}

}  // namespace sluice::server
