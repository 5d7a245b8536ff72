// Reads a server's Prometheus /metrics endpoint in cross-process tests.
#ifndef VOXFLOW_TESTS_UTIL_METRICS_SCRAPE_H_
#define VOXFLOW_TESTS_UTIL_METRICS_SCRAPE_H_

#include <map>
#include <string>

#include "absl/time/time.h"

namespace voxflow::testing {

// GET http://127.0.0.1:port/metrics; the body ("" when it cannot connect).
std::string ScrapeMetrics(int port);

// Samples by "name{labels}" (labels as the exposition prints them, sorted by name).
std::map<std::string, double> ParseMetrics(const std::string& text);

// Scrapes until `sample` reaches `value` exactly (true) or `timeout` passes (false).
bool WaitForMetric(int port, const std::string& sample, double value, absl::Duration timeout);

}  // namespace voxflow::testing

#endif  // VOXFLOW_TESTS_UTIL_METRICS_SCRAPE_H_
