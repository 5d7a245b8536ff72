#include "services/gateway/websocket_connection.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/post.hpp"
#include "services/common/metrics.h"
#include "services/gateway/browser_call.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/twilio_call.h"
#include "spdlog/spdlog.h"

namespace voxflow::gateway {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;

const char* CallKindName(CallKind kind) { return kind == CallKind::kTwilio ? "twilio" : "browser"; }

WebSocketConnection::WebSocketConnection(beast::tcp_stream stream, CallKind kind,
                                         std::shared_ptr<grpc::Channel> orchestrator,
                                         const GatewayOptions& options, OnClosed on_closed)
    : ws_(std::move(stream)),
      kind_(kind),
      orchestrator_(std::move(orchestrator)),
      options_(options),
      on_closed_(std::move(on_closed)),
      idle_timer_(ws_.get_executor()),
      clock_([] { return absl::Now(); }) {
  if (kind_ == CallKind::kTwilio) {
    call_ = std::make_unique<TwilioCall>(*this, clock_);
  } else {
    call_ = std::make_unique<BrowserCall>(*this, clock_);
  }
}

WebSocketConnection::~WebSocketConnection() = default;

void WebSocketConnection::Accept(Request request) {
  websocket::stream_base::timeout timeout{};
  timeout.handshake_timeout = absl::ToChronoMilliseconds(options_.request_timeout);
  timeout.idle_timeout = websocket::stream_base::none();  // Our own idle rule: ArmIdleTimer.
  timeout.keep_alive_pings = false;
  ws_.set_option(timeout);
  ws_.read_message_max(options_.max_frame_bytes);
  beast::get_lowest_layer(ws_).expires_never();
  ws_.async_accept(request, [self = shared_from_this()](beast::error_code error) {
    if (error) {
      self->Finish(1006);
      return;
    }
    self->accepted_ = true;
    GatewayMetrics::ConnectionOpened(CallKindName(self->kind_));
    self->last_received_ = std::chrono::steady_clock::now();
    self->ArmIdleTimer();
    self->Read();
  });
}

void WebSocketConnection::GoAway() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->finished_) return;
    self->CancelConverse();
    self->Close(kCloseGoingAway, "going away: the gateway is shutting down");
  });
}

void WebSocketConnection::Read() {
  ws_.async_read(buffer_,
                 beast::bind_front_handler(&WebSocketConnection::OnRead, shared_from_this()));
}

void WebSocketConnection::OnRead(beast::error_code error, size_t bytes) {
  if (error) {
    uint16_t code = 1006;
    if (error == websocket::error::closed) {
      code = close_sent_ ? close_code_ : static_cast<uint16_t>(ws_.reason().code);
    } else if (error == websocket::error::message_too_big) {
      code = kCloseTooBig;  // Beast has sent the close frame.
    } else if (close_sent_) {
      code = close_code_;
    }
    Finish(code);
    return;
  }
  GatewayMetrics::BytesIn(bytes);
  if (!closing_) {
    last_received_ = std::chrono::steady_clock::now();
    const auto data = buffer_.cdata();
    const absl::string_view frame(static_cast<const char*>(data.data()), data.size());
    if (ws_.got_text()) {
      call_->OnText(frame);
    } else {
      call_->OnBinary(frame);
    }
  }
  buffer_.consume(buffer_.size());
  // Reading goes on while closing: the peer's close frame ends it.
  Read();
}

void WebSocketConnection::ArmIdleTimer() {
  // One wake-up per idle period, not one timer update per frame: each frame only notes its time.
  idle_timer_.expires_at(last_received_ + absl::ToChronoMilliseconds(options_.idle_timeout));
  idle_timer_.async_wait([weak = weak_from_this()](beast::error_code error) {
    if (error) return;  // Cancelled.
    auto self = weak.lock();
    if (self == nullptr || self->finished_ || self->closing_) return;
    if (std::chrono::steady_clock::now() - self->last_received_ <
        absl::ToChronoMilliseconds(self->options_.idle_timeout)) {
      self->ArmIdleTimer();  // Something came since: wait for the rest of the period.
      return;
    }
    self->CancelConverse();
    self->Close(kClosePolicy, absl::StrCat("idle: nothing received for ",
                                           absl::FormatDuration(self->options_.idle_timeout)));
  });
}

void WebSocketConnection::StartConverse(v1::SessionConfig config) {
  if (upstream_ != nullptr || finished_) return;
  GatewayMetrics::SessionBridged(+1);
  std::weak_ptr<WebSocketConnection> weak = weak_from_this();
  ConverseUpstream::Callbacks callbacks;
  callbacks.on_event = [weak](v1::ConverseEvent& event) {
    if (auto self = weak.lock()) self->TakeEvent(event);
  };
  callbacks.on_done = [weak](const absl::Status& status) {
    GatewayMetrics::SessionBridged(-1);
    auto self = weak.lock();
    if (self == nullptr) return;
    net::post(self->ws_.get_executor(), [self, status] {
      if (!self->finished_) self->call_->OnConverseEnd(status);
    });
  };
  upstream_ = ConverseUpstream::Start(orchestrator_, std::move(config), std::move(callbacks));
}

void WebSocketConnection::TakeEvent(v1::ConverseEvent& event) {
  const auto bytes = static_cast<int64_t>(event.ByteSizeLong());
  const int64_t backlog = backlog_ += bytes;
  const bool slow = backlog > static_cast<int64_t>(options_.max_queued_bytes);
  net::post(ws_.get_executor(),
            [self = shared_from_this(), event = std::move(event), bytes, slow]() mutable {
              self->backlog_ -= bytes;
              if (self->finished_ || self->closing_) return;
              if (slow) {
                // As the orchestrator does with its own slow readers: the call ends.
                SlowReadersCounter("gateway").Increment();
                self->CancelConverse();
                self->Close(kClosePolicy,
                            absl::StrCat("slow reader: more than ", self->options_.max_queued_bytes,
                                         " bytes waiting for this client"));
                return;
              }
              self->call_->OnEvent(event);
            });
}

void WebSocketConnection::SendConverse(v1::ConverseRequest request) {
  if (upstream_ == nullptr || closing_) return;
  if (!upstream_->Send(std::move(request))) {
    CancelConverse();
    Close(kCloseTryAgainLater, "sending faster than the conversation takes it");
  }
}

void WebSocketConnection::CancelConverse() {
  if (upstream_ != nullptr) upstream_->Cancel();
}

void WebSocketConnection::SendText(std::string text) { Queue({true, std::move(text)}); }
void WebSocketConnection::SendBinary(std::string data) { Queue({false, std::move(data)}); }

void WebSocketConnection::Queue(Frame frame) {
  if (closing_ || finished_) return;
  backlog_ += static_cast<int64_t>(frame.data.size());
  outbox_.push_back(std::move(frame));
  WriteNext();
}

void WebSocketConnection::WriteNext() {
  if (writing_ || finished_) return;
  if (outbox_.empty()) {
    if (closing_ && !close_sent_) CloseNow();
    return;
  }
  writing_ = true;
  ws_.text(outbox_.front().text);
  ws_.async_write(net::buffer(outbox_.front().data),
                  beast::bind_front_handler(&WebSocketConnection::OnWritten, shared_from_this()));
}

void WebSocketConnection::OnWritten(beast::error_code error, size_t bytes) {
  writing_ = false;
  const auto size = static_cast<int64_t>(outbox_.front().data.size());
  outbox_.pop_front();
  backlog_ -= size;
  if (error) {
    // The peer is gone: the read side ends the connection.
    backlog_ -= [this] {
      int64_t rest = 0;
      for (const Frame& frame : outbox_) rest += static_cast<int64_t>(frame.data.size());
      return rest;
    }();
    outbox_.clear();
    CancelConverse();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  GatewayMetrics::BytesOut(bytes);
  WriteNext();
}

void WebSocketConnection::Close(uint16_t code, std::string reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (code != kCloseNormal) {
    spdlog::info("{} connection closing: {} {}", CallKindName(kind_), code, close_reason_);
  }
  // The close frame follows what is queued; a peer that reads none of it (or never answers the
  // close) has the connection cut after request_timeout instead of holding it forever.
  idle_timer_.expires_after(absl::ToChronoMilliseconds(options_.request_timeout));
  idle_timer_.async_wait([weak = weak_from_this()](beast::error_code error) {
    if (error) return;
    if (auto self = weak.lock(); self != nullptr && !self->finished_) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(net::ip::tcp::socket::shutdown_both,
                                                           ignored);
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    }
  });
  WriteNext();
}

void WebSocketConnection::CloseNow() {
  close_sent_ = true;
  websocket::close_reason reason;
  reason.code = close_code_;
  reason.reason = close_reason_;
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code error) {
    if (error) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    }
  });
}

void WebSocketConnection::Finish(uint16_t code) {
  if (finished_) return;
  finished_ = true;
  idle_timer_.cancel();
  CancelConverse();
  // The code we closed with, when we did (the peer may never have seen it).
  if (accepted_)
    GatewayMetrics::ConnectionClosed(CallKindName(kind_), closing_ ? close_code_ : code);
  if (on_closed_) on_closed_(this, code);
}

}  // namespace voxflow::gateway
