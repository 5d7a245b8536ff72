#include "services/tts/voice_selection.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace voxflow::tts {

absl::StatusOr<std::string> SelectVoice(const std::vector<v1::Voice>& voices,
                                        absl::string_view voice, absl::string_view language,
                                        absl::string_view provider) {
  if (!voice.empty()) {
    for (const v1::Voice& v : voices) {
      if (v.name() == voice) return std::string(voice);
    }
    return absl::InvalidArgumentError(absl::StrCat("config.voice: unknown voice ",
                                                   QuoteClientValue(voice), " for provider ",
                                                   provider, " (see ListVoices)"));
  }
  const std::string wanted = absl::AsciiStrToLower(language.empty() ? "en-US" : language);
  // Exact language first, then the same primary language ("en-AU" falls back to any "en").
  for (bool exact : {true, false}) {
    for (const v1::Voice& v : voices) {
      for (const std::string& l : v.languages()) {
        const std::string have = absl::AsciiStrToLower(l);
        if (exact ? have == wanted : absl::StartsWith(have, wanted.substr(0, wanted.find('-')))) {
          return v.name();
        }
      }
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("config.language: no voice for language ",
                                                 QuoteClientValue(language), " in provider ",
                                                 provider));
}

}  // namespace voxflow::tts
