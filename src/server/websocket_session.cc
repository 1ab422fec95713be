// WebSocket subscriptions: a snapshot, then deltas in version order (docs/http-api.md).
//
// The session is a member of its view's feed (subscription_hub.h): it holds a cursor (the
// version its client has) and at most one write in flight. Whenever it is not writing and the
// feed has something newer, it writes everything it has for the client in ONE gather write:
// each delta as its own message (the bytes shared with every client of the same filter), or
// one coalesced delta when it fell far behind, or a fresh snapshot in place when it fell off
// the feed's log. A client that asked for pacing (?batch_ms=) gets at most one write per that
// many milliseconds. A slow client therefore never queues memory, never slows the pipeline or
// other clients, and is never closed for being slow.
//
// Beast performs the opening handshake; the frames are written and read here
// (websocket_frames.h) because Beast writes one message per operation. The session answers
// pings, echoes a client's close, closes with 1002 on a protocol violation, pings an idle client
// every Subscription::ping_interval and lets TCP_USER_TIMEOUT close a vanished one.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/session.h"
#include "server/subscription_hub.h"
#include "server/websocket_frames.h"

namespace sluice::server {
namespace {

namespace websocket = boost::beast::websocket;
namespace frames = websocket_frames;
using SteadyClock = std::chrono::steady_clock;

// Bounds of one gather write (a client far behind gets a coalesced delta anyway).
constexpr size_t kMaxMessagesPerWrite = 256;
constexpr size_t kMaxBytesPerWrite = 1u << 20;
// After sending our close frame, how long the client may take to answer before we hang up.
constexpr auto kCloseWait = std::chrono::seconds(2);

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession>, public FeedMember {
 public:
  WebSocketSession(tcp::socket socket, std::shared_ptr<store::View> view, Subscription subscription,
                   SubscriptionHub& hub, MetricsRegistry* metrics)
      : handshake_(std::make_unique<websocket::stream<tcp::socket>>(std::move(socket))),
        socket_(handshake_->get_executor()),
        batch_timer_(handshake_->get_executor()),
        ping_timer_(handshake_->get_executor()),
        close_timer_(handshake_->get_executor()),
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
    protocol_errors_ = metrics->GetCounter(
        "sluice_websocket_protocol_errors_total",
        "Subscribers closed with 1002 because their frames broke the WebSocket protocol");
  }

  ~WebSocketSession() {
    if (feed_ != nullptr) {
      hub_.Leave(feed_, this);
      subscribers_->Add(-1);
    }
  }

  void Run(http::request<http::string_body> request) {
    handshake_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    handshake_->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "sluice"); }));
    handshake_->async_accept(
        request, beast::bind_front_handler(&WebSocketSession::OnAccept, shared_from_this()));
  }

  void Wake() override { Pump(); }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    socket_ = std::move(handshake_->next_layer());
    // Beast's accept operation is still on the stack: free the stream once it has returned.
    net::post(socket_.get_executor(), [self = shared_from_this()] { self->handshake_.reset(); });
    const int fd = socket_.native_handle();
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Data a vanished client never acknowledges (a ping at the latest) closes the socket.
    const unsigned user_timeout_ms =
        static_cast<unsigned>(std::max<int64_t>(2 * subscription_.ping_interval.count(), 1000));
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    feed_ = hub_.Join(view_, socket_.get_executor(), this);
    channel_ = feed_->Channel(subscription_.where, std::move(subscription_.filter));
    subscribers_->Add(1);
    ArmPing();
    Pump();
    Read();
  }

  // Writes what is pending for the client, unless a write is in flight (its completion pumps)
  // or pacing holds it back (the batch timer pumps).
  void Pump() {
    if (writing_ || closed_ || feed_ == nullptr || close_sent_) return;
    const bool paced = control_out_.empty() && !close_queued_ && subscription_.batch.count() > 0;
    // A paced subscriber is woken by every delta: while its timer runs, that costs nothing.
    if (paced && batch_timer_armed_) return;
    const SteadyClock::time_point now = SteadyClock::now();
    if (paced && now < next_write_at_) {
      ArmBatchTimer();
      return;
    }
    out_controls_.swap(control_out_);
    size_t bytes = 0;
    while (!close_queued_ && out_texts_.size() < kMaxMessagesPerWrite &&
           bytes < kMaxBytesPerWrite) {
      FeedMessage message = feed_->Next(*channel_, cursor_);
      if (message.kind == FeedMessage::Kind::kNothing) break;
      if (message.kind == FeedMessage::Kind::kFailed) {  // the client reconnects later
        spdlog::error("subscription to view '{}' ends: {}", view_->name(), *message.text);
        QueueClose(frames::EncodeCloseFrame(frames::kCloseInternalError, *message.text));
        break;
      }
      if (message.kind == FeedMessage::Kind::kSnapshot && message.resync) resyncs_->Add();
      if (message.kind == FeedMessage::Kind::kDelta && message.coalesced) coalesced_->Add();
      bytes += message.text->size();
      out_texts_.push_back(std::move(message.text));
      if (message.kind == FeedMessage::Kind::kDropped)
        QueueClose(frames::EncodeCloseFrame(frames::kCloseNormal, "view dropped"));
    }
    const bool sends_close = close_queued_;
    if (out_controls_.empty() && out_texts_.empty() && !sends_close) return;

    // Pongs and pings first, then the messages in order, then our close (nothing follows it).
    out_headers_.clear();
    for (const auto& text : out_texts_)
      out_headers_.push_back(frames::EncodeFrameHeader(frames::kText, text->size()));
    out_buffers_.clear();
    for (const std::string& control : out_controls_) out_buffers_.push_back(net::buffer(control));
    for (size_t i = 0; i < out_texts_.size(); ++i) {
      out_buffers_.push_back(net::buffer(out_headers_[i].bytes.data(), out_headers_[i].size));
      out_buffers_.push_back(net::buffer(*out_texts_[i]));
    }
    if (sends_close) out_buffers_.push_back(net::buffer(close_frame_));

    writing_ = true;
    wrote_since_ping_ = true;
    if (subscription_.batch.count() > 0) next_write_at_ = now + subscription_.batch;
    net::async_write(socket_, out_buffers_,
                     [self = shared_from_this(), sends_close](beast::error_code ec, size_t) {
                       self->OnWritten(ec, sends_close);
                     });
  }

  void OnWritten(beast::error_code ec, bool sent_close) {
    writing_ = false;
    out_controls_.clear();
    out_texts_.clear();
    if (ec) {
      Shutdown();
      return;
    }
    if (sent_close) {
      close_sent_ = true;
      if (close_received_) {  // the closing handshake is complete: the server hangs up first
        Shutdown();
        return;
      }
      // Our close: wait (briefly) for the client's answer; reading goes on until it comes.
      beast::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      close_timer_.expires_after(kCloseWait);
      close_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->Shutdown();
      });
      return;
    }
    Pump();
  }

  void QueueClose(std::string frame) {
    if (close_queued_) return;
    close_queued_ = true;
    close_frame_ = std::move(frame);
  }

  // Reads the client's frames: answers pings, echoes a close, ends on a protocol violation.
  void Read() {
    socket_.async_read_some(
        net::buffer(read_buffer_),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(beast::error_code ec, size_t n) {
    if (ec) {  // the client went away (or we closed the socket)
      Shutdown();
      return;
    }
    if (reader_failed_) {  // after a protocol error: discard until the client hangs up
      Read();
      return;
    }
    controls_.clear();
    const bool ok = reader_.Consume(std::string_view(read_buffer_.data(), n), controls_);
    std::string_view close_code;
    for (const frames::ControlFrame& control : controls_) {
      if (control.opcode == frames::kPing && !close_queued_) {
        control_out_.push_back(frames::EncodeControlFrame(frames::kPong, control.payload));
      } else if (control.opcode == frames::kClose) {
        close_received_ = true;
        close_code = std::string_view(control.payload).substr(0, 2);
        break;
      }
    }
    if (close_received_) {
      if (close_sent_) {
        Shutdown();
        return;
      }
      // Echo the client's status code (an empty close is answered with an empty one).
      QueueClose(frames::EncodeControlFrame(frames::kClose, close_code));
      Pump();
      return;  // nothing the client sends after its close matters
    }
    if (!ok) {
      reader_failed_ = true;
      protocol_errors_->Add();
      QueueClose(frames::EncodeCloseFrame(frames::kCloseProtocolError, reader_.error()));
    }
    Pump();
    Read();
  }

  void ArmBatchTimer() {
    if (batch_timer_armed_) return;
    batch_timer_armed_ = true;
    batch_timer_.expires_at(next_write_at_);
    batch_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      self->batch_timer_armed_ = false;
      if (!ec) self->Pump();
    });
  }

  // Every ping interval: a ping if nothing was written since the last one.
  void ArmPing() {
    ping_timer_.expires_after(subscription_.ping_interval);
    ping_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_ || self->close_queued_) return;
      if (!self->wrote_since_ping_ && !self->writing_) {
        self->control_out_.push_back(frames::EncodeControlFrame(frames::kPing, ""));
        self->Pump();
      }
      self->wrote_since_ping_ = false;
      self->ArmPing();
    });
  }

  // Closes the socket: pending operations end with an error and release the session.
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    batch_timer_.cancel();
    ping_timer_.cancel();
    close_timer_.cancel();
    beast::error_code ignored;
    socket_.close(ignored);
  }

  std::unique_ptr<websocket::stream<tcp::socket>> handshake_;  // until the handshake is done
  tcp::socket socket_;
  net::steady_timer batch_timer_;
  net::steady_timer ping_timer_;
  net::steady_timer close_timer_;
  std::shared_ptr<store::View> view_;  // kept alive while subscribed, even once dropped
  Subscription subscription_;
  SubscriptionHub& hub_;
  std::shared_ptr<ViewFeed> feed_;
  std::shared_ptr<FeedChannel> channel_;
  FeedCursor cursor_;  // what the client holds

  // The write in flight: control frames, messages with their headers, the buffers over them.
  std::vector<std::string> out_controls_;
  std::vector<std::shared_ptr<const std::string>> out_texts_;
  std::vector<frames::FrameHeader> out_headers_;
  std::vector<net::const_buffer> out_buffers_;
  std::vector<std::string> control_out_;  // pongs and pings waiting for the next write
  std::string close_frame_;               // our close, queued once; the last thing written
  SteadyClock::time_point next_write_at_{};

  std::array<char, 4096> read_buffer_;
  frames::FrameReader reader_;
  std::vector<frames::ControlFrame> controls_;

  bool writing_ = false;
  bool closed_ = false;          // the socket is closed
  bool close_queued_ = false;    // our close frame is queued: no more messages
  bool close_sent_ = false;      // our close frame was written
  bool close_received_ = false;  // the client sent its close
  bool reader_failed_ = false;   // a protocol violation: the client's bytes are ignored
  bool batch_timer_armed_ = false;
  bool wrote_since_ping_ = false;
  Gauge* subscribers_;
  Counter* coalesced_;
  Counter* resyncs_;
  Counter* protocol_errors_;
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
