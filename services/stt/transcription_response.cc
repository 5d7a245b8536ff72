#include "services/stt/transcription_response.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "services/common/logging.h"

namespace voxflow::stt {
namespace {

using Json = nlohmann::json;

absl::Status Malformed(absl::string_view what, absl::string_view body) {
  return absl::InternalError(
      absl::StrCat("malformed transcription (", what, "): ", QuoteClientValue(body, 120)));
}

int64_t Ms(const Json& seconds) {
  return seconds.is_number() ? static_cast<int64_t>(std::llround(seconds.get<double>() * 1000)) : 0;
}

}  // namespace

absl::StatusOr<Transcription> ParseTranscription(absl::string_view body) {
  const Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Malformed("not a JSON object", body);
  auto text = json.find("text");
  if (text == json.end() || !text->is_string()) return Malformed("no \"text\"", body);
  Transcription result;
  result.text = std::string(absl::StripAsciiWhitespace(text->get<std::string>()));
  if (auto words = json.find("words"); words != json.end() && words->is_array()) {
    for (const Json& w : *words) {
      if (!w.is_object() || !w.contains("word") || !w["word"].is_string()) continue;
      v1::WordInfo& info = result.words.emplace_back();
      info.set_word(std::string(absl::StripAsciiWhitespace(w["word"].get<std::string>())));
      info.set_start_ms(Ms(w.value("start", Json())));
      info.set_end_ms(Ms(w.value("end", Json())));
    }
  }
  if (auto segments = json.find("segments"); segments != json.end() && segments->is_array()) {
    double sum = 0;
    int count = 0;
    for (const Json& s : *segments) {
      if (s.is_object() && s.contains("avg_logprob") && s["avg_logprob"].is_number()) {
        sum += s["avg_logprob"].get<double>();
        ++count;
      }
    }
    if (count > 0) result.confidence = static_cast<float>(std::exp(sum / count));
  }
  return result;
}

absl::StatusOr<TranscriptionEvent> ParseTranscriptionEvent(const SseEvent& event) {
  TranscriptionEvent out;
  if (event.data == "[DONE]") return out;
  const Json json = Json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Malformed("an event", event.data);
  const std::string type = json.value("type", event.event);
  if (type == "transcript.text.delta") {
    auto delta = json.find("delta");
    if (delta == json.end() || !delta->is_string()) return Malformed("a delta", event.data);
    out.kind = TranscriptionEvent::Kind::kDelta;
    out.text = delta->get<std::string>();
  } else if (type == "transcript.text.done") {
    auto text = json.find("text");
    if (text == json.end() || !text->is_string()) return Malformed("a done event", event.data);
    out.kind = TranscriptionEvent::Kind::kDone;
    out.text = std::string(absl::StripAsciiWhitespace(text->get<std::string>()));
  } else if (type == "error" || json.contains("error")) {
    return absl::UnavailableError(absl::StrCat("the transcription stream reported an error: ",
                                               QuoteClientValue(event.data, 200)));
  }
  return out;
}

}  // namespace voxflow::stt
