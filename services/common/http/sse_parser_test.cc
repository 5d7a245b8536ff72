#include "services/common/http/sse_parser.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow {
namespace {

std::vector<std::string> Data(const std::vector<SseEvent>& events) {
  std::vector<std::string> data;
  for (const SseEvent& e : events) data.push_back(e.data);
  return data;
}

TEST(SseParserTest, EventsSplitAcrossReadsAnyWay) {
  const std::string stream =
      ": keep-alive\n\ndata: {\"a\":1}\n\ndata: {\"b\":2}\r\n\r\nevent: done\ndata: [DONE]\n\n";
  // Every split point gives the same events.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser parser;
    std::vector<SseEvent> events = parser.Push(stream.substr(0, cut));
    for (SseEvent& e : parser.Push(stream.substr(cut))) events.push_back(std::move(e));
    ASSERT_THAT(Data(events), ::testing::ElementsAre("{\"a\":1}", "{\"b\":2}", "[DONE]"))
        << "cut at " << cut;
    EXPECT_EQ(events[2].event, "done");
    EXPECT_EQ(parser.pending_bytes(), 0u);
  }
}

TEST(SseParserTest, DataLinesOfOneEventJoinAndCommentsAreIgnored) {
  SseParser parser;
  std::vector<SseEvent> events =
      parser.Push("data: line one\n: a comment between\ndata:line two\nid: 7\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "line one\nline two");
  EXPECT_TRUE(parser.Push(": ping\n\n").empty()) << "a comment alone is no event";
  EXPECT_TRUE(parser.Push("data: not ended yet").empty());
  EXPECT_EQ(parser.pending_bytes(), 19u);
}

}  // namespace
}  // namespace voxflow
