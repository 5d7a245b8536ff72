#include "services/orchestrator/pipeline/pipeline_spec_loader.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PipelineSpecLoaderTest, LoadsTheShippedVoiceChatFile) {
  absl::StatusOr<v1::PipelineSpec> spec =
      LoadPipelineSpecFile("services/orchestrator/pipelines/voice_chat.textproto");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "voice_chat");
  ASSERT_EQ(spec->stages_size(), 5);
  std::vector<std::string> names;
  for (const auto& stage : spec->stages()) names.push_back(stage.name());
  EXPECT_THAT(names, ElementsAre("stt", "prefetch_memory", "llm", "tts", "save_memory"));
  const v1::StageSpec& llm = spec->stages(2);
  EXPECT_EQ(llm.kind(), v1::AGENT);
  EXPECT_THAT(llm.depends_on(), ElementsAre("stt", "prefetch_memory"));
  EXPECT_EQ(llm.retry().max_attempts(), 3);
  EXPECT_FLOAT_EQ(llm.retry().jitter(), 0.2f);
  const v1::StageSpec& tts = spec->stages(3);
  EXPECT_THAT(tts.streams_from(), ElementsAre("llm"));
  const v1::StageSpec& stt = spec->stages(0);
  EXPECT_EQ(stt.failure_policy(), v1::DEGRADE);
  EXPECT_EQ(stt.fallback_output().at("transcript"), "");
  EXPECT_EQ(stt.retry().max_attempts(), 2);
}

TEST(PipelineSpecLoaderTest, BuiltInDefaultIsTheShippedFile) {
  absl::StatusOr<v1::PipelineSpec> file =
      LoadPipelineSpecFile("services/orchestrator/pipelines/voice_chat.textproto");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(DefaultPipelineSpec(), *file))
      << DefaultPipelineSpec().DebugString();
}

TEST(PipelineSpecLoaderTest, ParseErrorNamesLineAndColumn) {
  absl::StatusOr<v1::PipelineSpec> spec =
      ParsePipelineSpec("name: \"x\"\nstages {\n  nmae: \"stt\"\n}\n", "bad.textproto");
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("bad.textproto:3:"));
  EXPECT_THAT(spec.status().message(), HasSubstr("nmae"));
}

TEST(PipelineSpecLoaderTest, UnknownEnumValueIsAnError) {
  absl::StatusOr<v1::PipelineSpec> spec =
      ParsePipelineSpec("name: \"x\" stages { name: \"a\" kind: DANCE }", "k.textproto");
  ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("DANCE"));
}

TEST(PipelineSpecLoaderTest, NameIsRequired) {
  EXPECT_EQ(ParsePipelineSpec("stages { name: \"a\" }", "n.textproto").status(),
            absl::InvalidArgumentError("n.textproto: pipeline has no name"));
}

TEST(PipelineSpecLoaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadPipelineSpecFile("/nonexistent/p.textproto").status().code(),
            absl::StatusCode::kNotFound);
}

class PipelineDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(std::getenv("TEST_TMPDIR")) / "pipelines";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(PipelineDirTest, LoadsEveryTextprotoSortedByFileName) {
  Write("b.textproto", "name: \"second\" stages { name: \"s\" type: \"stt\" }");
  Write("a.textproto", "name: \"first\" stages { name: \"s\" type: \"stt\" }");
  Write("README.md", "not a pipeline");
  absl::StatusOr<std::vector<v1::PipelineSpec>> specs = LoadPipelineSpecDir(dir_.string());
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 2u);
  EXPECT_EQ((*specs)[0].name(), "first");
  EXPECT_EQ((*specs)[1].name(), "second");
}

TEST_F(PipelineDirTest, DuplicateNamesAreAnError) {
  Write("a.textproto", "name: \"same\"");
  Write("b.textproto", "name: \"same\"");
  absl::StatusOr<std::vector<v1::PipelineSpec>> specs = LoadPipelineSpecDir(dir_.string());
  ASSERT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(specs.status().message(), HasSubstr("pipeline name 'same' is already used"));
}

TEST_F(PipelineDirTest, MissingDirIsNotFound) {
  EXPECT_EQ(LoadPipelineSpecDir((dir_ / "nope").string()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace voxflow::orchestrator
