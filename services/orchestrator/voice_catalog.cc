#include "services/orchestrator/voice_catalog.h"

#include <utility>

#include "grpcpp/client_context.h"
#include "services/tts/voice_selection.h"
#include "spdlog/spdlog.h"
#include "voxflow/v1/tts.grpc.pb.h"

namespace voxflow::orchestrator {

void VoiceCatalog::Update(std::vector<v1::Voice> voices) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    provider_ = voices.empty() ? "tts" : voices.front().provider();
    voices_ = std::move(voices);
  }
  known_cv_.notify_all();
}

bool VoiceCatalog::WaitUntilKnown(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return known_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                            [this] { return voices_.has_value(); });
}

absl::Status VoiceCatalog::Check(const std::string& voice, const std::string& language) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!voices_.has_value()) return absl::OkStatus();
  absl::StatusOr<std::string> selected = tts::SelectVoice(*voices_, voice, language, provider_);
  return selected.status();
}

std::vector<v1::Voice> VoiceCatalog::voices() const {
  std::lock_guard<std::mutex> lock(mu_);
  return voices_.value_or(std::vector<v1::Voice>());
}

bool VoiceCatalog::known() const {
  std::lock_guard<std::mutex> lock(mu_);
  return voices_.has_value();
}

namespace {

// One ListVoices call in flight; its callback schedules the next.
struct ListVoicesCall {
  std::weak_ptr<VoiceCatalog> catalog;
  const Backend* tts;
  TimerQueue* timers;
  absl::Duration refresh;
  grpc::ClientContext context;
  v1::ListVoicesRequest request;
  v1::ListVoicesResponse response;
  std::unique_ptr<v1::TextToSpeech::Stub> stub;
};

void ScheduleListVoices(std::weak_ptr<VoiceCatalog> catalog, const Backend* tts, TimerQueue* timers,
                        absl::Duration refresh, absl::Duration after);

void ListVoices(std::weak_ptr<VoiceCatalog> weak, const Backend* tts, TimerQueue* timers,
                absl::Duration refresh) {
  if (weak.expired()) return;
  auto call = std::make_shared<ListVoicesCall>();
  call->catalog = weak;
  call->tts = tts;
  call->timers = timers;
  call->refresh = refresh;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  call->stub = v1::TextToSpeech::NewStub(tts->channel());
  call->stub->async()->ListVoices(
      &call->context, &call->request, &call->response, [call](grpc::Status status) {
        absl::Duration next = call->refresh;
        if (auto catalog = call->catalog.lock()) {
          if (status.ok()) {
            catalog->Update({call->response.voices().begin(), call->response.voices().end()});
          } else {
            spdlog::debug("tts ListVoices at {} failed: {}", call->tts->target(),
                          status.error_message());
            if (!catalog->known()) next = std::min(next, absl::Seconds(5));
          }
        }
        ScheduleListVoices(call->catalog, call->tts, call->timers, call->refresh, next);
      });
}

void ScheduleListVoices(std::weak_ptr<VoiceCatalog> catalog, const Backend* tts, TimerQueue* timers,
                        absl::Duration refresh, absl::Duration after) {
  if (catalog.expired()) return;
  timers->Schedule(absl::Now() + after,
                   [catalog, tts, timers, refresh] { ListVoices(catalog, tts, timers, refresh); });
}

}  // namespace

void KeepVoiceCatalogFresh(std::shared_ptr<VoiceCatalog> catalog, const Backend* tts,
                           TimerQueue* timers, absl::Duration refresh) {
  ListVoices(catalog, tts, timers, refresh);
}

}  // namespace voxflow::orchestrator
