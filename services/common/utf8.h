// UTF-8 validation for text clients send (proto3 strings must be UTF-8, but the C++ runtime does
// not refuse them).
#ifndef VOXFLOW_SERVICES_COMMON_UTF8_H_
#define VOXFLOW_SERVICES_COMMON_UTF8_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace voxflow {

// OK, or INVALID_ARGUMENT "<field> is not valid UTF-8 (at byte N)". Overlong forms, surrogates and
// code points above U+10FFFF are invalid.
absl::Status CheckUtf8(absl::string_view text, absl::string_view field);

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_UTF8_H_
