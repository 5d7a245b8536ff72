// The gateway's message handling on arbitrary input: Twilio Media Streams frames and
// /v1/converse frames (text and binary, in any order), the orchestrator's events (arbitrary wire
// bytes, and reply audio and telemetry with any turn ids), the stream's end with any status.
// Every frame is handled or closes the call with a code, never a crash; a close reason always
// fits a WebSocket close frame.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_input.h"
#include "services/gateway/browser_call.h"
#include "services/gateway/testing/fake_call_io.h"
#include "services/gateway/twilio_call.h"
#include "services/gateway/twilio_messages.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace voxflow;           // NOLINT: a fuzz target.
  using namespace voxflow::gateway;  // NOLINT: a fuzz target.
  fuzz::FuzzInput in(data, size);
  testing::FakeCallIo io;
  absl::Time now = absl::UnixEpoch();
  VoiceClock clock([&now] { return now; });
  std::unique_ptr<Call> call;
  if (in.Bool()) {
    call = std::make_unique<TwilioCall>(io, clock);
  } else {
    call = std::make_unique<BrowserCall>(io, clock);
  }
  static constexpr const char* kTelemetry[] = {"turn.reply_paused", "turn.interrupted",
                                               "turn.reply_resumed", "other"};
  for (int step = 0; step < 100 && !in.empty(); ++step) {
    now += absl::Milliseconds(in.IntInRange(0, 100));
    switch (in.IntInRange(0, 5)) {
      case 0: {
        const std::string text = in.Bytes(1024);
        (void)ParseTwilioMessage(text);
        call->OnText(text);
        break;
      }
      case 1:
        call->OnBinary(in.Bytes(1024));
        break;
      case 2: {
        v1::ConverseEvent event;
        if (event.ParseFromString(in.Bytes(512))) call->OnEvent(event);
        break;
      }
      case 3: {
        v1::ConverseEvent event;
        event.mutable_reply_audio()->set_turn_id(static_cast<int32_t>(in.IntInRange(-2, 4)));
        event.mutable_reply_audio()->set_text(in.Bytes(16));
        event.mutable_reply_audio()->mutable_audio()->set_data(in.Bytes(400));
        call->OnEvent(event);
        break;
      }
      case 4: {
        v1::ConverseEvent event;
        event.mutable_telemetry()->set_name(in.Pick(kTelemetry));
        (*event.mutable_telemetry()->mutable_attributes())["turn_id"] = in.Bytes(4);
        call->OnEvent(event);
        break;
      }
      default:
        call->OnConverseEnd(
            absl::Status(static_cast<absl::StatusCode>(in.IntInRange(0, 16)), in.Bytes(300)));
        break;
    }
    if (io.close().has_value() && io.close()->second.size() > 123) __builtin_trap();
  }
  return 0;
}
