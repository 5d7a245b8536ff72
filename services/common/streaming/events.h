// Telemetry events in Stageflow's vocabulary ("stream.chunk_dropped", ...): a name and string
// attributes. Emitters are called without any lock held, from whichever thread caused the event.
#ifndef VOXFLOW_SERVICES_COMMON_STREAMING_EVENTS_H_
#define VOXFLOW_SERVICES_COMMON_STREAMING_EVENTS_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace voxflow::streaming {

// Ordered, so events print and compare deterministically.
using EventAttributes = std::map<std::string, std::string>;

using EventEmitter = std::function<void(absl::string_view name, const EventAttributes& attributes)>;

struct TelemetryEvent {
  std::string name;
  EventAttributes attributes;
  absl::Time time;
};

// Events gathered while a lock is held, emitted after it is released.
class PendingEvents {
 public:
  void Add(std::string name, EventAttributes attributes) {
    events_.emplace_back(std::move(name), std::move(attributes));
  }
  void EmitTo(const EventEmitter& emitter) {
    if (emitter) {
      for (const auto& [name, attributes] : events_) emitter(name, attributes);
    }
    events_.clear();
  }

 private:
  std::vector<std::pair<std::string, EventAttributes>> events_;
};

}  // namespace voxflow::streaming

#endif  // VOXFLOW_SERVICES_COMMON_STREAMING_EVENTS_H_
