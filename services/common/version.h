// Voxflow's release version, printed by `voxctl --version` and logged by the servers at start.
#ifndef VOXFLOW_SERVICES_COMMON_VERSION_H_
#define VOXFLOW_SERVICES_COMMON_VERSION_H_

namespace voxflow {

inline constexpr char kVersion[] = "0.6.0";
inline constexpr char kApiVersion[] = "voxflow.v1";

}  // namespace voxflow

#endif  // VOXFLOW_SERVICES_COMMON_VERSION_H_
