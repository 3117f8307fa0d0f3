// The --where filters of `laco query` and `laco report`: KEY=VALUE pairs made
// into one SQL condition on `runs r`, with every value bound as a parameter
// (never pasted into SQL) and every key checked against the database.
//
// A placement has one meaning everywhere: `layer=0.25`, `layer=1/4` and
// `layer=block:2` select the runs whose resolved block is the block that value
// resolves to at each run's encoder depth, however the run's own placement was
// spelt.
#pragma once

#include <string>
#include <vector>

#include "results/sqlite.h"

namespace laco {

/// A condition on the alias `r` of `runs`, and its parameters in order.
struct RunFilter {
  std::string condition = "1";
  std::vector<sql::Value> params;
};

/// Usage: auto f = run_filter(db, "laco.db", {"method=laco", "layer=1/4"}, &warnings);
///        db.prepare("SELECT ... FROM runs r WHERE " + f.condition) then bind f.params.
/// KEY is a column of `runs` (eval, status, preset, method, layer, block_k,
/// ratio, seed, ...), `sweep`, `grid`, or a field of the resolved configuration
/// (grid_policy, reps, steps1, ...). The same key twice: either value (OR);
/// different keys: all must hold (AND). An unknown key is an error naming the
/// allowed ones; a value that matches no run is a warning naming the values
/// the database holds (when `warnings` is given).
RunFilter run_filter(sql::Connection& db, const std::string& db_name, const std::vector<std::string>& where,
                     std::vector<std::string>* warnings = nullptr);

}  // namespace laco
