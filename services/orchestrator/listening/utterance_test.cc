#include "services/orchestrator/listening/utterance.h"

#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

InputItem Audio(const std::string& data) {
  InputItem item;
  item.audio.set_data(data);
  return item;
}

TEST(UtteranceTest, DeliversEveryFrameOnceInOrderThenTheEnd) {
  Utterance utterance(1);
  auto cancel = CancellationToken::Create();
  utterance.Append(Audio("ab"));
  utterance.Append(Audio("cd"));
  utterance.End(absl::Now());
  utterance.Append(Audio("late"));  // After the end: belongs to the next utterance, not here.
  EXPECT_EQ(utterance.bytes(), 4u);
  EXPECT_EQ(utterance.Next(cancel)->audio.data(), "ab");
  EXPECT_EQ(utterance.Next(cancel)->audio.data(), "cd");
  EXPECT_TRUE(utterance.Next(cancel)->end_of_utterance);
  EXPECT_FALSE(utterance.Next(cancel).has_value());
}

TEST(UtteranceTest, AFrameNobodyWatchesForWaitsForTheReadersThread) {
  Utterance utterance(1);
  InputItem held = Audio("ab");
  held.hand_overs = 1;
  utterance.Append(std::move(held));  // Before the stt stage watches: it waits for its start.
  std::vector<int> read;
  utterance.Watch([&] {
    while (auto item = utterance.TryNext()) read.push_back(item->hand_overs);
  });
  InputItem live = Audio("cd");
  live.hand_overs = 1;
  utterance.Append(std::move(live));  // Read by the watcher on this thread.
  EXPECT_EQ(read, (std::vector<int>{2, 1}));
}

TEST(UtteranceTest, AWaitingReaderWakesOnAudioAndOnCancel) {
  Utterance utterance(1);
  auto cancel = CancellationToken::Create();
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    utterance.Append(Audio("x"));
  });
  EXPECT_EQ(utterance.Next(cancel)->audio.data(), "x");
  writer.join();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(20));
    cancel->Cancel(absl::CancelledError("done"));
  });
  EXPECT_FALSE(utterance.Next(cancel).has_value());
  canceller.join();
}

}  // namespace
}  // namespace voxflow::orchestrator
