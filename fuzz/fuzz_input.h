// Reads typed values off a fuzzer's input bytes (libFuzzer's FuzzedDataProvider is clang-only, and
// the seed corpora also replay under gcc in `make test`). Past the end every read yields zeros.
#ifndef VOXFLOW_FUZZ_FUZZ_INPUT_H_
#define VOXFLOW_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace voxflow::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return at_ >= size_; }
  size_t remaining() const { return size_ - at_; }

  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  bool Bool() { return Byte() & 1; }
  template <typename T>
  T Integral() {
    T value{};
    const size_t n = std::min(sizeof(T), remaining());
    if (n > 0) std::memcpy(&value, data_ + at_, n);
    at_ += n;
    return value;
  }
  // In [low, high].
  int64_t IntInRange(int64_t low, int64_t high) {
    if (high <= low) return low;
    const uint64_t span = static_cast<uint64_t>(high - low) + 1;
    const uint64_t value = Integral<uint64_t>();
    return low + static_cast<int64_t>(span == 0 ? value : value % span);
  }
  // One of `choices` (an array).
  template <typename T, size_t N>
  T Pick(const T (&choices)[N]) {
    return choices[IntInRange(0, N - 1)];
  }
  // Up to `max` bytes (a length byte pair first).
  std::string Bytes(size_t max) {
    // The length is read first: as an argument beside remaining(), gcc evaluated it second, and
    // the copy ran past the input.
    const size_t wanted = static_cast<size_t>(IntInRange(0, static_cast<int64_t>(max)));
    const size_t n = std::min(wanted, remaining());
    std::string out(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return out;
  }
  std::string Rest() { return Bytes(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace voxflow::fuzz

#endif  // VOXFLOW_FUZZ_FUZZ_INPUT_H_
