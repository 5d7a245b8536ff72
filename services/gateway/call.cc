#include "services/gateway/call.h"

namespace voxflow::gateway {

uint16_t CloseCodeFor(const absl::Status& status) {
  if (status.ok()) return kCloseNormal;
  return static_cast<uint16_t>(kCloseGrpcBase + static_cast<int>(status.code()));
}

std::string CloseReason(absl::string_view text) {
  constexpr size_t kMaxReason = 123;
  if (text.size() <= kMaxReason) return std::string(text);
  // Cut on a character boundary: the reason must stay UTF-8.
  size_t end = kMaxReason;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace voxflow::gateway
