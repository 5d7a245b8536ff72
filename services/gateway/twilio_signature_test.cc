#include "services/gateway/twilio_signature.h"

#include "gtest/gtest.h"

namespace voxflow::gateway {
namespace {

// Twilio's documented example: auth token 12345, a POST to this URL with these parameters.
TEST(TwilioSignatureTest, TwiliosDocumentedExample) {
  EXPECT_EQ(TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
                            {{"CallSid", "CA1234567890ABCDE"},
                             {"Caller", "+12349013030"},
                             {"Digits", "1234"},
                             {"From", "+12349013030"},
                             {"To", "+18005551212"}}),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST(TwilioSignatureTest, AWebSocketUpgradeSignsItsUrl) {
  // base64(HMAC-SHA1("12345", URL)), computed independently with Python's hmac module.
  const char* url = "wss://example.com/twilio?pipeline=voice_chat";
  EXPECT_EQ(TwilioSignature("12345", url), "akysMtAgnTTp99dLi5CdNFd2E5M=");
  EXPECT_TRUE(TwilioSignatureValid("12345", url, "akysMtAgnTTp99dLi5CdNFd2E5M="));
  EXPECT_FALSE(TwilioSignatureValid("12346", url, "akysMtAgnTTp99dLi5CdNFd2E5M="));
  EXPECT_FALSE(
      TwilioSignatureValid("12345", "wss://example.com/twilio", "akysMtAgnTTp99dLi5CdNFd2E5M="));
  EXPECT_FALSE(TwilioSignatureValid("12345", url, ""));
  EXPECT_FALSE(TwilioSignatureValid("12345", url, "akysMtAgnTTp99dLi5CdNFd2E5M"));
}

}  // namespace
}  // namespace voxflow::gateway
