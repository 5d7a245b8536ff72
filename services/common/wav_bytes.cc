#include "services/common/wav_bytes.h"

#include <sndfile.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"

namespace voxflow {
namespace {

// A growable buffer libsndfile reads and writes through its virtual I/O.
struct MemoryFile {
  std::string bytes;
  sf_count_t position = 0;
};

sf_count_t Length(void* user) { return static_cast<MemoryFile*>(user)->bytes.size(); }

sf_count_t Seek(sf_count_t offset, int whence, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  sf_count_t to = whence == SEEK_SET   ? offset
                  : whence == SEEK_CUR ? file->position + offset
                                       : static_cast<sf_count_t>(file->bytes.size()) + offset;
  file->position = std::max<sf_count_t>(0, to);
  return file->position;
}

sf_count_t Read(void* out, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const sf_count_t size = static_cast<sf_count_t>(file->bytes.size());
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - file->position));
  std::memcpy(out, file->bytes.data() + file->position, static_cast<size_t>(n));
  file->position += n;
  return n;
}

sf_count_t Write(const void* in, sf_count_t count, void* user) {
  auto* file = static_cast<MemoryFile*>(user);
  const size_t end = static_cast<size_t>(file->position + count);
  if (file->bytes.size() < end) file->bytes.resize(end);
  std::memcpy(file->bytes.data() + file->position, in, static_cast<size_t>(count));
  file->position += count;
  return count;
}

sf_count_t Tell(void* user) { return static_cast<MemoryFile*>(user)->position; }

SF_VIRTUAL_IO kMemoryIo = {&Length, &Seek, &Read, &Write, &Tell};

struct SndfileCloser {
  void operator()(SNDFILE* file) const { sf_close(file); }
};

}  // namespace

absl::StatusOr<std::string> EncodeWav(absl::string_view pcm, int sample_rate, int channels) {
  MemoryFile memory;
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  {
    std::unique_ptr<SNDFILE, SndfileCloser> file(
        sf_open_virtual(&kMemoryIo, SFM_WRITE, &info, &memory));
    if (file == nullptr) {
      return absl::InternalError(absl::StrCat("cannot write a WAV: ", sf_strerror(nullptr)));
    }
    const sf_count_t frames = static_cast<sf_count_t>(pcm.size() / 2 / channels);
    std::vector<int16_t> samples(static_cast<size_t>(frames) * channels);
    std::memcpy(samples.data(), pcm.data(), samples.size() * 2);
    if (sf_writef_short(file.get(), samples.data(), frames) != frames) {
      return absl::InternalError(absl::StrCat("cannot write a WAV: ", sf_strerror(file.get())));
    }
  }  // Closing writes the header's sizes.
  return std::move(memory.bytes);
}

absl::StatusOr<DecodedWav> DecodeWav(absl::string_view bytes) {
  MemoryFile memory{std::string(bytes)};
  SF_INFO info{};
  std::unique_ptr<SNDFILE, SndfileCloser> file(
      sf_open_virtual(&kMemoryIo, SFM_READ, &info, &memory));
  if (file == nullptr || info.channels <= 0 || info.samplerate <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a WAV libsndfile reads (", sf_strerror(nullptr), ")"));
  }
  std::vector<int16_t> samples(static_cast<size_t>(std::max<sf_count_t>(0, info.frames)) *
                               info.channels);
  const sf_count_t read = sf_readf_short(file.get(), samples.data(), info.frames);
  DecodedWav wav;
  wav.sample_rate = info.samplerate;
  wav.channels = info.channels;
  wav.pcm.assign(reinterpret_cast<const char*>(samples.data()),
                 static_cast<size_t>(std::max<sf_count_t>(0, read)) * info.channels * 2);
  return wav;
}

}  // namespace voxflow
