// FakeCallIo: records what a Call does to the caller's socket and the Converse stream.
#ifndef VOXFLOW_SERVICES_GATEWAY_TESTING_FAKE_CALL_IO_H_
#define VOXFLOW_SERVICES_GATEWAY_TESTING_FAKE_CALL_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/gateway/call.h"

namespace voxflow::gateway::testing {

class FakeCallIo final : public CallIo {
 public:
  struct Frame {
    bool text;
    std::string data;
  };

  void StartConverse(v1::SessionConfig config) override { config_ = std::move(config); }
  void SendConverse(v1::ConverseRequest request) override {
    requests_.push_back(std::move(request));
  }
  void CancelConverse() override { cancelled_ = true; }
  void SendText(std::string text) override { frames_.push_back({true, std::move(text)}); }
  void SendBinary(std::string data) override { frames_.push_back({false, std::move(data)}); }
  void Close(uint16_t code, std::string reason) override {
    if (!close_.has_value()) close_ = std::make_pair(code, std::move(reason));
  }

  const std::optional<v1::SessionConfig>& config() const { return config_; }
  std::vector<v1::ConverseRequest>& requests() { return requests_; }
  std::vector<Frame>& frames() { return frames_; }
  bool cancelled() const { return cancelled_; }
  const std::optional<std::pair<uint16_t, std::string>>& close() const { return close_; }

 private:
  std::optional<v1::SessionConfig> config_;
  std::vector<v1::ConverseRequest> requests_;
  std::vector<Frame> frames_;
  bool cancelled_ = false;
  std::optional<std::pair<uint16_t, std::string>> close_;
};

}  // namespace voxflow::gateway::testing

#endif  // VOXFLOW_SERVICES_GATEWAY_TESTING_FAKE_CALL_IO_H_
