// The browser page and its scripts (services/gateway/web/), built into the binary so that the
// image ships them with nothing to install.
#ifndef VOXFLOW_SERVICES_GATEWAY_WEB_ASSETS_H_
#define VOXFLOW_SERVICES_GATEWAY_WEB_ASSETS_H_

namespace voxflow::gateway {

extern const char kIndexHtml[];
extern const char kAppJs[];
extern const char kWorkletsJs[];

}  // namespace voxflow::gateway

#endif  // VOXFLOW_SERVICES_GATEWAY_WEB_ASSETS_H_
