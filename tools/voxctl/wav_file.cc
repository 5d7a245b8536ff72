#include "tools/voxctl/wav_file.h"

#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/audio_converter.h"

namespace voxflow::voxctl {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Why `path` cannot be opened, as precisely as the file system says.
absl::Status OpenError(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode))
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  if (access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadSoundFile(const std::string& path, const v1::AudioStreamFormat& to,
                                          SoundFileInfo* info) {
  if (absl::Status s = OpenError(path); !s.ok()) return s;
  SF_INFO sf_info{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &sf_info));
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a sound file libsndfile can read (", sf_strerror(nullptr), ")"));
  }
  if (sf_info.frames <= 0 || sf_info.channels <= 0 || sf_info.samplerate <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": holds no audio"));
  }
  if (info != nullptr) *info = {sf_info.samplerate, sf_info.channels, sf_info.frames};

  // Floats in [-1, 1] whatever the file's encoding; the converter does rate and channels.
  std::vector<float> samples(static_cast<size_t>(sf_info.frames) * sf_info.channels);
  const sf_count_t read = sf_readf_float(file.get(), samples.data(), sf_info.frames);
  if (read <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read its audio (", sf_strerror(file.get()), ")"));
  }
  samples.resize(static_cast<size_t>(read) * sf_info.channels);

  v1::AudioStreamFormat from;
  from.set_format(v1::FLOAT32);
  from.set_sample_rate(sf_info.samplerate);
  from.set_channels(sf_info.channels);
  absl::StatusOr<std::unique_ptr<AudioConverter>> converter = AudioConverter::Create(from, to);
  if (!converter.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot convert its audio: ", converter.status().message()));
  }
  absl::StatusOr<std::string> pcm =
      (*converter)
          ->Convert(absl::string_view(reinterpret_cast<const char*>(samples.data()),
                                      samples.size() * sizeof(float)));
  if (!pcm.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", pcm.status().message()));
  }
  pcm->append((*converter)->Flush());
  return pcm;
}

absl::Status WriteWavFile(const std::string& path, absl::string_view pcm,
                          const v1::AudioStreamFormat& format) {
  if (format.format() != v1::PCM16) {
    return absl::InvalidArgumentError("WAV output is written from PCM16 audio only");
  }
  if (format.sample_rate() <= 0 || format.channels() <= 0) {
    return absl::InvalidArgumentError("WAV output needs a sample rate and a channel count");
  }
  SF_INFO sf_info{};
  sf_info.samplerate = format.sample_rate();
  sf_info.channels = format.channels();
  sf_info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &sf_info));
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot write (", sf_strerror(nullptr), ")"));
  }
  // Our PCM16 is little-endian like x86's shorts; copy to keep alignment right.
  std::vector<short> samples(pcm.size() / 2);
  std::memcpy(samples.data(), pcm.data(), samples.size() * 2);
  const sf_count_t frames = static_cast<sf_count_t>(samples.size()) / format.channels();
  if (sf_writef_short(file.get(), samples.data(), frames) != frames) {
    return absl::InternalError(
        absl::StrCat(path, ": write failed (", sf_strerror(file.get()), ")"));
  }
  return absl::OkStatus();
}

}  // namespace voxflow::voxctl
