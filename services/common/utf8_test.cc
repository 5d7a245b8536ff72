#include "services/common/utf8.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace voxflow {
namespace {

TEST(CheckUtf8Test, AcceptsUtf8) {
  EXPECT_TRUE(CheckUtf8("hello", "t").ok());
  EXPECT_TRUE(CheckUtf8("Grüße, 你好, 🙂", "t").ok());
  EXPECT_TRUE(CheckUtf8("", "t").ok());
}

TEST(CheckUtf8Test, RefusesWhatIsNot) {
  EXPECT_THAT(CheckUtf8("ab\xff", "text").message(),
              ::testing::HasSubstr("text is not valid UTF-8 (at byte 2)"));
  EXPECT_FALSE(CheckUtf8("\xc3", "t").ok());              // Truncated.
  EXPECT_FALSE(CheckUtf8("\xc0\xaf", "t").ok());          // Overlong '/'.
  EXPECT_FALSE(CheckUtf8("\xed\xa0\x80", "t").ok());      // A surrogate.
  EXPECT_FALSE(CheckUtf8("\xf4\x90\x80\x80", "t").ok());  // Above U+10FFFF.
}

}  // namespace
}  // namespace voxflow
