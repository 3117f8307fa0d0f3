// `laco merge OUT IN...`: combines results databases (shards of a sweep,
// runs from several machines, the same sweep measured at two commits) into one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace laco {

struct MergeSummary {
  size_t added = 0;      ///< runs OUT did not have
  size_t replaced = 0;   ///< done in an input, not done in OUT (pending, running, failed)
  size_t identical = 0;  ///< done in both with the same measurement (provenance, metrics, raw data): kept once
  size_t both = 0;       ///< done in both, measured differently: both kept, the newer current, the older archived
  size_t archived = 0;   ///< archived measurements of an input that OUT did not hold, carried over
  size_t kept = 0;       ///< not done in the input, present in OUT: OUT's row stays
};

/// Merges every input into OUT (created when absent) in one transaction.
/// A run done in two places keeps every distinct measurement: the newer (by
/// finished_at, then started_at; OUT's on a tie) stays current and the other
/// goes to the archive (results/measurements.h), as a re-measurement would
/// leave them; identical measurements are kept once, so merging the same
/// input again changes nothing. The inputs' archived measurements come along,
/// also kept once. The same key with different configurations (beyond what
/// the key ignores) is a conflict: nothing is written, and the error names
/// every such key, the field that differs and where it came from.
MergeSummary merge_results(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace laco
