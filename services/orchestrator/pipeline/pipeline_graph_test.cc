#include "services/orchestrator/pipeline/pipeline_graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::set<std::string> kTypes = {"stt", "memory_fetch", "memory_write", "llm", "tts"};

v1::PipelineSpec Parse(const std::string& text) {
  auto spec = ParsePipelineSpec("name: 'p' " + text, "test");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

std::string BuildError(const std::string& text) {
  auto graph = PipelineGraph::Build(Parse(text), kTypes);
  EXPECT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(graph.status().message());
}

TEST(PipelineGraphTest, DefaultPipelineOrdersDependenciesFirst) {
  auto graph = PipelineGraph::Build(DefaultPipelineSpec(), kTypes);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->OrderedNames(),
              ElementsAre("stt", "prefetch_memory", "llm", "tts", "save_memory"));
  const StageNode& tts = graph->stages()[graph->Find("tts")];
  ASSERT_EQ(tts.dependencies.size(), 1u);
  EXPECT_TRUE(tts.streamed[0]);
  EXPECT_EQ(graph->Find("nope"), -1);
}

TEST(PipelineGraphTest, RejectsAnEmptyPipeline) {
  EXPECT_EQ(BuildError(""), "pipeline 'p' has no stages");
}

TEST(PipelineGraphTest, RejectsDuplicateNames) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' } stages { name: 'a' type: 'tts' }"),
              HasSubstr("duplicate stage name 'a'"));
}

TEST(PipelineGraphTest, RejectsUnknownDependency) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' depends_on: 'ghost' }"),
              HasSubstr("stage 'a' depends on unknown stage 'ghost'"));
}

TEST(PipelineGraphTest, RejectsUnknownType) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'telepathy' }"),
              HasSubstr("stage 'a' has unknown type 'telepathy' (known: "));
}

TEST(PipelineGraphTest, RejectsACycleAndPrintsItsPath) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' depends_on: 'c' }"
                         "stages { name: 'b' type: 'llm' depends_on: 'a' }"
                         "stages { name: 'c' type: 'llm' depends_on: 'b' }"
                         "stages { name: 'd' type: 'llm' }"),
              HasSubstr("dependency cycle b -> c -> a -> b"));
  EXPECT_THAT(BuildError("stages { name: 'self' type: 'llm' depends_on: 'self' }"),
              HasSubstr("dependency cycle self -> self"));
}

TEST(PipelineGraphTest, RejectsStreamsFromOutsideDependsOn) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' }"
                         "stages { name: 'b' type: 'tts' streams_from: 'a' }"),
              HasSubstr("stage 'b' streams_from 'a', which is not in its depends_on"));
}

TEST(PipelineGraphTest, RejectsBadRetryPolicyAndTimeout) {
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' retry { jitter: 2 } }"),
              HasSubstr("stage 'a': retry.jitter must be in [0, 1]"));
  EXPECT_THAT(BuildError("stages { name: 'a' type: 'llm' timeout_ms: -1 }"),
              HasSubstr("stage 'a' has a negative timeout_ms"));
  EXPECT_THAT(BuildError("stages { type: 'llm' }"), HasSubstr("stage 1 has no name"));
}

}  // namespace
}  // namespace voxflow::orchestrator
