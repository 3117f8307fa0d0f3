// `laco merge OUT IN...`: combines results databases (shards of a sweep,
// runs from several machines) into one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace laco {

struct MergeSummary {
  size_t added = 0;      ///< runs OUT did not have
  size_t replaced = 0;   ///< done in an input, not done in OUT (pending, running, failed)
  size_t identical = 0;  ///< done in both with the same metrics: kept once
  size_t kept = 0;       ///< not done in the input, present in OUT: OUT's row stays
};

/// Merges every input into OUT (created when absent) in one transaction. A
/// run done in two places with different metrics is a conflict: nothing is
/// written, and the error names every conflicting key and where it came
/// from. Merging the same input again changes nothing.
MergeSummary merge_results(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace laco
