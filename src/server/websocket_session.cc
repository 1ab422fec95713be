// WebSocket subscriptions: a snapshot, then every delta of the view in version order.
//
// Deltas are produced on the pipeline thread under the view's lock; the listener only posts the
// shared, immutable delta text to this session's strand, so a slow client never blocks the
// pipeline or other clients. A client whose queue passes `max_queued_messages` is closed with
// a "try again later" status so it reconnects and resyncs from a fresh snapshot, instead of
// growing memory without bound.
#include <deque>
#include <memory>

#include <spdlog/spdlog.h>

#include "server/session.h"

namespace sluice::server {
namespace {

namespace websocket = boost::beast::websocket;

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(tcp::socket socket, std::shared_ptr<store::View> view,
                   const ServerOptions& options, MetricsRegistry* metrics)
      : ws_(std::move(socket)), view_(std::move(view)), max_queued_(options.max_queued_messages) {
    subscribers_ =
        metrics->GetGauge("sluice_websocket_subscribers", "Open WebSocket subscriptions");
    dropped_ = metrics->GetCounter("sluice_websocket_slow_client_closes_total",
                                   "Subscribers closed because they fell too far behind");
  }

  ~WebSocketSession() {
    if (subscription_ != 0) {
      view_->Unsubscribe(subscription_);
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

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    std::weak_ptr<WebSocketSession> weak = shared_from_this();
    auto executor = ws_.get_executor();
    // Subscribe runs on_registered under the view lock: the snapshot is queued first and every
    // later delta after it, with no gap. We are on our strand here, so touching queue_ is safe.
    subscription_ = view_->Subscribe(
        [weak, executor](uint64_t, const std::shared_ptr<const std::string>& delta) {
          net::post(executor, [weak, delta] {
            if (auto self = weak.lock()) self->Enqueue(delta);
          });
        },
        [this](uint64_t, std::string snapshot) {
          queue_.push_back(std::make_shared<const std::string>(std::move(snapshot)));
        });
    subscribers_->Add(1);
    WriteNext();
    ReadLoop();
  }

  void Enqueue(const std::shared_ptr<const std::string>& message) {
    if (closing_) return;
    if (queue_.size() >= max_queued_) {
      dropped_->Add();
      StopSending(/*send_close=*/true);
      return;
    }
    queue_.push_back(message);
    // The view was dropped: that message is the last one; close normally once it is sent.
    if (message->starts_with(R"({"type":"dropped")")) view_dropped_ = true;
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    if (writing_ || queue_.empty() || closing_) return;
    writing_ = true;
    ws_.async_write(net::buffer(*queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      self->queue_.pop_front();  // the buffer Beast was writing from
                      if (ec) {
                        self->StopSending(/*send_close=*/false);
                        return;
                      }
                      if (self->close_pending_) {
                        self->SendClose();
                        return;
                      }
                      if (self->view_dropped_ && self->queue_.empty()) {
                        self->closing_ = true;
                        self->ws_.async_close(
                            websocket::close_reason(websocket::close_code::normal, "view dropped"),
                            [self](beast::error_code) {});
                        return;
                      }
                      self->WriteNext();
                    });
  }

  // Drops what is queued and sends nothing more. The message being written (the queue's
  // front, while writing_) must stay alive until its write completes; the close frame goes out
  // after it, since a close cannot interleave with a half-written message.
  void StopSending(bool send_close) {
    if (closing_) return;
    closing_ = true;
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
      close_pending_ = send_close;
    } else {
      queue_.clear();
      if (send_close) SendClose();
    }
  }

  void SendClose() {
    close_pending_ = false;
    ws_.async_close(websocket::close_reason(websocket::close_code::try_again_later,
                                            "too far behind: reconnect to resync"),
                    [self = shared_from_this()](beast::error_code) {});
  }

  // Subscribers don't send anything we act on; reading keeps control frames (ping/close)
  // flowing and tells us when the client goes away.
  void ReadLoop() {
    ws_.async_read(read_buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->StopSending(/*send_close=*/false);
        return;
      }
      self->read_buffer_.consume(self->read_buffer_.size());
      self->ReadLoop();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<store::View> view_;  // kept alive while subscribed, even once dropped
  size_t max_queued_;
  uint64_t subscription_ = 0;
  std::deque<std::shared_ptr<const std::string>> queue_;
  beast::flat_buffer read_buffer_;
  bool writing_ = false;        // an async_write of queue_.front() is in flight
  bool closing_ = false;        // nothing more is sent (beyond a pending close frame)
  bool close_pending_ = false;  // send the close frame once the in-flight write completes
  bool view_dropped_ = false;   // the "dropped" message is queued: close after it
  Gauge* subscribers_;
  Counter* dropped_;
};

}  // namespace

void StartWebSocketSession(tcp::socket socket, http::request<http::string_body> request,
                           std::shared_ptr<store::View> view, const ServerOptions& options,
                           MetricsRegistry* metrics) {
  auto session =
      std::make_shared<WebSocketSession>(std::move(socket), std::move(view), options, metrics);
  session->Run(std::move(request));
}

}  // namespace sluice::server
