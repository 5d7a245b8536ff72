#include "services/orchestrator/llm/tool_declarations.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow::orchestrator {
namespace {

using ::testing::HasSubstr;

TEST(ToolDeclarationsTest, PipelineToolsThenTheSessionsOverThem) {
  const std::map<std::string, std::string> parameters = {
      {"tools", R"([{"name":"get_weather","description":"By city",
                     "parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
                    {"name":"get_time"}])"}};
  v1::LlmSettings session;
  v1::ToolSpec* mine = session.add_tools();
  mine->set_name("get_time");
  mine->set_description("The caller's local time");
  absl::StatusOr<std::vector<LlmTool>> tools = DeclaredTools(parameters, session);
  ASSERT_TRUE(tools.ok()) << tools.status();
  ASSERT_EQ(tools->size(), 2u);
  EXPECT_EQ((*tools)[0].name, "get_weather");
  EXPECT_THAT((*tools)[0].parameters_json, HasSubstr("\"city\""));
  EXPECT_EQ((*tools)[1].description, "The caller's local time") << "the session's replaces it";
}

TEST(ToolDeclarationsTest, BadDeclarationsNameTheField) {
  v1::LlmSettings session;
  EXPECT_THAT(DeclaredTools({{"tools", "{}"}}, session).status().message(),
              HasSubstr("llm parameter tools: is not a JSON array"));
  EXPECT_THAT(DeclaredTools({{"tools", R"([{"description":"x"}])"}}, session).status().message(),
              HasSubstr("llm parameter tools[0]: needs a string \"name\""));
  v1::ToolSpec* tool = session.add_tools();
  tool->set_name("book a table");
  EXPECT_THAT(DeclaredTools({}, session).status().message(),
              HasSubstr("config.llm.tools[0].name 'book a table' is not"));
  tool->set_name("book");
  tool->set_parameters_json("[1]");
  EXPECT_THAT(DeclaredTools({}, session).status().message(),
              HasSubstr("config.llm.tools[0].parameters_json is not a JSON object"));
  tool->set_parameters_json("");
  tool->set_description(std::string(1025, 'x'));
  EXPECT_EQ(DeclaredTools({}, session).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ToolDeclarationsTest, TimeoutFromTheSessionOrTheParameter) {
  v1::LlmSettings session;
  EXPECT_EQ(*ToolTimeout({}, session), absl::Seconds(10));
  EXPECT_EQ(*ToolTimeout({{"tool_timeout_ms", "250"}}, session), absl::Milliseconds(250));
  session.set_tool_timeout_ms(500);
  EXPECT_EQ(*ToolTimeout({{"tool_timeout_ms", "250"}}, session), absl::Milliseconds(500));
  session.set_tool_timeout_ms(50);
  EXPECT_THAT(ToolTimeout({}, session).status().message(),
              HasSubstr("config.llm.tool_timeout_ms 50 is not in 100..120000"));
  session.set_tool_timeout_ms(0);
  EXPECT_THAT(ToolTimeout({{"tool_timeout_ms", "x"}}, session).status().message(),
              HasSubstr("llm parameter tool_timeout_ms"));
}

}  // namespace
}  // namespace voxflow::orchestrator
