// Replays a fuzz target's committed seed corpus (FUZZ_CORPUS, a runfiles directory) through its
// LLVMFuzzerTestOneInput under the normal build: every seed must run clean in `make test`, also
// where clang's libFuzzer is not used.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

TEST(FuzzCorpusTest, EverySeedRunsClean) {
  int argc = 0;
  char** argv = nullptr;
  LLVMFuzzerInitialize(&argc, &argv);
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FUZZ_CORPUS)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream file(entry.path(), std::ios::binary);
    std::vector<uint8_t> bytes(entry.file_size());
    file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(bytes.data(), bytes.size()),
              0);
    ++seeds;
  }
  EXPECT_GT(seeds, 0) << "no seeds in " << FUZZ_CORPUS;
}

}  // namespace
