// `laco slurm SPEC --shards N`: a Slurm job-array script for a sweep. One
// array task per shard, each writing its own database on node-local storage
// (copied to the shared output folder as one file when the task ends), and a
// merge job that runs after the whole array.
#pragma once

#include <string>

#include "runner/sweep_spec.h"

namespace laco {

struct SlurmOptions {
  std::string spec;     ///< the sweep spec, as given (made absolute in the script)
  int shards = 1;
  std::string out;      ///< shared folder for shards, logs, the stage-0 cache and the merged laco.db
  int threads = 2;      ///< --cpus-per-task and laco --threads
  std::string time;     ///< #SBATCH --time, "" for the cluster's default
  std::string partition;
  std::string laco;     ///< the laco binary (absolute)
};

/// The script. `sweep` is the loaded spec (its run and unit counts are
/// quoted); more shards than work units is an error.
std::string slurm_script(const Sweep& sweep, const SlurmOptions& options);

}  // namespace laco
