#include "services/common/utf8.h"

#include "absl/strings/str_cat.h"

namespace voxflow {

absl::Status CheckUtf8(absl::string_view text, absl::string_view field) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    size_t length = 0;
    uint32_t code = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2, code = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3, code = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4, code = c & 0x07, min = 0x10000;
    }
    bool ok = length > 0 && i + length <= n;
    for (size_t k = 1; ok && k < length; ++k) {
      ok = (s[i + k] & 0xc0) == 0x80;
      code = (code << 6) | (s[i + k] & 0x3f);
    }
    if (!ok || code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " is not valid UTF-8 (at byte ", i, ")"));
    }
    i += length;
  }
  return absl::OkStatus();
}

}  // namespace voxflow
