// The p-quantile (0..1) of a sample, nearest rank; NAN for an empty one.
#ifndef VOXFLOW_BENCH_UTIL_PERCENTILE_H_
#define VOXFLOW_BENCH_UTIL_PERCENTILE_H_

#include <algorithm>
#include <cmath>
#include <vector>

namespace voxflow::bench {

inline double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const size_t i = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[i];
}

}  // namespace voxflow::bench

#endif  // VOXFLOW_BENCH_UTIL_PERCENTILE_H_
