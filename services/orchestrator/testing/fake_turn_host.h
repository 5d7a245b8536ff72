// FakeTurnHost: a TurnHost that records what a Turn reports (the session's side of the seam), so
// a Turn is tested without a session, gRPC or a clock.
#ifndef VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_HOST_H_
#define VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_HOST_H_

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "services/orchestrator/turn_host.h"

namespace voxflow::orchestrator::testing {

class FakeTurnHost : public TurnHost {
 public:
  struct Offer {
    int turn_id;
    size_t bytes;
    std::string text;
  };

  void Send(v1::ConverseEvent event) override {
    std::lock_guard<std::mutex> lock(mu_);
    events.push_back(std::move(event));
  }
  void SendTelemetry(absl::string_view name,
                     const streaming::EventAttributes& attributes) override {
    std::lock_guard<std::mutex> lock(mu_);
    telemetry.emplace_back(std::string(name), attributes);
  }
  void OnHeard(int turn_id, const std::string& transcript) override {
    std::lock_guard<std::mutex> lock(mu_);
    heard.emplace_back(turn_id, transcript);
  }
  bool IsEchoOfReply(int /*turn_id*/, const std::string& transcript) override {
    return transcript == echo;
  }
  void OnRecognizerEndpoint(int turn_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    endpoints.push_back(turn_id);
  }
  ReplyOffer OfferReplyAudio(int turn_id, v1::AudioChunk& audio, const std::string& text) override {
    std::lock_guard<std::mutex> lock(mu_);
    offers.push_back({turn_id, audio.data().size(), text});
    return answer_offers;
  }
  void WhenReplyRoom(int turn_id, size_t bytes, std::function<void()> on_room) override {
    std::lock_guard<std::mutex> lock(mu_);
    room_waits.emplace_back(turn_id, bytes);
    room_waiters.push_back(std::move(on_room));
  }
  void CallTool(int turn_id, const LlmToolCall& call, absl::Duration /*timeout*/,
                const std::shared_ptr<CancellationToken>& /*cancel*/,
                LlmToolAnswerSink answer) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tool_calls.emplace_back(turn_id, call.name);
    }
    answer(LlmToolAnswer{tool_answer, ""});
  }

  // What the turn reported; read once the turn's calls have returned.
  std::vector<v1::ConverseEvent> events;
  std::vector<std::pair<std::string, streaming::EventAttributes>> telemetry;
  std::vector<std::pair<int, std::string>> heard;  // (turn id, transcript so far)
  std::vector<int> endpoints;
  std::vector<Offer> offers;
  std::vector<std::pair<int, size_t>> room_waits;  // (turn id, bytes)
  std::vector<std::function<void()>> room_waiters;
  std::vector<std::pair<int, std::string>> tool_calls;  // (turn id, tool name)

  // How it answers.
  ReplyOffer answer_offers = ReplyOffer::kTaken;
  std::string tool_answer = "{}";
  std::string echo = "\x01";  // The transcript taken for the reply's echo.

 private:
  std::mutex mu_;
};

}  // namespace voxflow::orchestrator::testing

#endif  // VOXFLOW_SERVICES_ORCHESTRATOR_TESTING_FAKE_TURN_HOST_H_
