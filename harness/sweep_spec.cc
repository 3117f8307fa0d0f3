#include "harness/sweep_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "harness/error.h"
#include "harness/placement.h"
#include "harness/presets.h"
#include "harness/text.h"
#include "methods/registry.h"
#include "results/sha256.h"

namespace laco {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kEvals = {"accuracy", "efficiency"};
const std::vector<std::string> kTopKeys = {"name",     "description", "threads",    "grid_policy",
                                           "evals",    "accuracy",    "efficiency", "grids"};
const std::vector<std::string> kAccuracyKeys = {"preset", "seeds", "steps0", "steps1", "steps2", "train_data", "test_data"};
const std::vector<std::string> kEfficiencyKeys = {"preset", "seeds",  "crops",  "text_tokens", "batch",
                                                  "train_batch", "warmup", "reps", "stages",      "device"};
const std::vector<std::string> kGridKeys = {"name", "methods", "placements", "ratios", "evals"};
const std::vector<std::string> kMethodKeys = {"name", "options"};

// Checks with messages "FILE: $.json.path: problem (allowed: ...)".
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}
  const std::string& file() const { return file_; }

  template <typename... Args>
  [[noreturn]] void error(const std::string& path, fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {}: {}", file_, path, fmt::format(format, std::forward<Args>(args)...));
  }

  std::string describe(const json& v) const {
    std::string text = v.dump();
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return fmt::format("{} {}", v.type_name(), text);
  }

  const json& object(const json& v, const std::string& path, const std::vector<std::string>& allowed) const {
    if (!v.is_object()) error(path, "expected an object, got {}", describe(v));
    for (const auto& [key, value] : v.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        error(path + "." + key, "unknown key (allowed: {})", join(allowed));
    return v;
  }

  const json& array(const json& v, const std::string& path, const std::string& allowed) const {
    if (!v.is_array()) error(path, "expected an array, got {} (allowed: {})", describe(v), allowed);
    if (v.empty()) error(path, "empty (allowed: {})", allowed);
    return v;
  }

  std::string string(const json& v, const std::string& path, const std::string& allowed = "a string") const {
    if (!v.is_string()) error(path, "expected a string, got {} (allowed: {})", describe(v), allowed);
    return v.get<std::string>();
  }

  int64_t integer(const json& v, const std::string& path, int64_t min, const std::string& what = "") const {
    const std::string allowed = what.empty() ? fmt::format("an integer >= {}", min) : what;
    if (!v.is_number_integer()) error(path, "expected an integer, got {} (allowed: {})", describe(v), allowed);
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? INT64_MAX : v.get<int64_t>();
    if (x < min) error(path, "{} is too small (allowed: {})", x, allowed);
    return x;
  }

  /// `text` names the item in "repeats" messages.
  template <typename T>
  void unique(const std::vector<T>& seen, const T& item, const std::string& path, const std::string& text,
              const std::string& base) const {
    auto it = std::find(seen.begin(), seen.end(), item);
    if (it != seen.end()) error(path, "{} repeats {}[{}]", text, base, it - seen.begin());
  }

 private:
  std::string file_;
};

std::string option_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();  // true, false, numbers
}

struct SpecMethod {
  std::string name;
  MethodOptions options;
  std::string path;
};

struct SpecGrid {
  std::string name, path;
  std::vector<SpecMethod> methods;
  std::vector<std::string> placements;
  std::vector<std::string> placement_paths;
  std::vector<int64_t> ratios;
  std::vector<std::string> evals;
};

struct EvalSection {
  std::string preset;
  std::vector<uint64_t> seeds = {0};
  json fields;  // the section as given
};

std::vector<uint64_t> parse_seeds(const Checker& ck, const json& v, const std::string& path) {
  std::vector<uint64_t> seeds;
  ck.array(v, path, "one or more integers >= 0");
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const auto s = static_cast<uint64_t>(ck.integer(v[i], p, 0));
    ck.unique(seeds, s, p, fmt::format("seed {}", s), path);
    seeds.push_back(s);
  }
  return seeds;
}

SpecMethod parse_method(const Checker& ck, const json& v, const std::string& path) {
  const std::string allowed = join(method_names());
  SpecMethod m;
  m.path = path;
  if (v.is_string()) {
    m.name = v.get<std::string>();
  } else if (v.is_object()) {
    ck.object(v, path, kMethodKeys);
    if (!v.contains("name")) ck.error(path + ".name", "missing (allowed: {})", allowed);
    m.name = ck.string(v["name"], path + ".name", allowed);
  } else {
    ck.error(path, "expected a method name or {{\"name\": ..., \"options\": {{...}}}}, got {} (allowed: {})",
             ck.describe(v), allowed);
  }
  const auto names = method_names();
  if (std::find(names.begin(), names.end(), m.name) == names.end())
    ck.error(v.is_object() ? path + ".name" : path, "unknown method '{}' (allowed: {})", m.name, allowed);
  if (v.is_object() && v.contains("options")) {
    const auto& info = find_method(m.name);
    const auto keys = info.option_keys();
    const std::string opath = path + ".options";
    if (!v["options"].is_object()) ck.error(opath, "expected an object, got {}", ck.describe(v["options"]));
    for (const auto& [key, value] : v["options"].items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        ck.error(opath + "." + key, "method '{}' has no option '{}' (allowed: {})", m.name, key,
                 keys.empty() ? std::string("none") : join(keys));
      if (!value.is_string() && !value.is_boolean() && !value.is_number())
        ck.error(opath + "." + key, "expected a string, boolean or number, got {}", ck.describe(value));
      m.options[key] = option_text(value);
    }
  }
  return m;
}

std::string placement_text(const Checker& ck, const json& v, const std::string& path) {
  const std::string allowed = "a depth fraction such as \"1/4\", 0.25 or 1, or \"block:K\"";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  ck.error(path, "expected a placement, got {} (allowed: {})", ck.describe(v), allowed);
}

std::vector<std::string> parse_evals(const Checker& ck, const json& v, const std::string& path,
                                     const std::vector<std::string>& allowed) {
  std::vector<std::string> out;
  ck.array(v, path, join(allowed));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const auto e = ck.string(v[i], p, join(allowed));
    if (std::find(allowed.begin(), allowed.end(), e) == allowed.end())
      ck.error(p, "'{}' is not an evaluation of this spec (allowed: {})", e, join(allowed));
    ck.unique(out, e, p, "'" + e + "'", path);
    out.push_back(e);
  }
  return out;
}

SpecGrid parse_grid(const Checker& ck, const json& v, size_t index, const std::vector<std::string>& evals) {
  SpecGrid g;
  g.path = fmt::format("$.grids[{}]", index);
  ck.object(v, g.path, kGridKeys);
  g.name = v.contains("name") ? ck.string(v["name"], g.path + ".name") : fmt::format("grid{}", index);
  for (const char* required : {"methods", "placements", "ratios"})
    if (!v.contains(required)) ck.error(g.path + "." + required, "missing (allowed keys: {})", join(kGridKeys));

  const std::string mpath = g.path + ".methods";
  ck.array(v["methods"], mpath, "one or more of " + join(method_names()));
  for (size_t i = 0; i < v["methods"].size(); ++i) {
    auto m = parse_method(ck, v["methods"][i], fmt::format("{}[{}]", mpath, i));
    for (size_t j = 0; j < g.methods.size(); ++j)
      if (g.methods[j].name == m.name && g.methods[j].options == m.options)
        ck.error(m.path, "method '{}' with the same options repeats {}[{}]", m.name, mpath, j);
    g.methods.push_back(m);
  }

  const std::string ppath = g.path + ".placements";
  ck.array(v["placements"], ppath, "one or more depth fractions (1/12, 1/6, 1/4, 1/2, 1, 0.25) or block:K");
  for (size_t i = 0; i < v["placements"].size(); ++i) {
    const std::string p = fmt::format("{}[{}]", ppath, i);
    const auto text = placement_text(ck, v["placements"][i], p);
    Placement::parse(text, ck.file() + ": " + p);  // the form; the depth is checked per preset
    ck.unique(g.placements, text, p, "'" + text + "'", ppath);
    g.placements.push_back(text);
    g.placement_paths.push_back(p);
  }

  const std::string rpath = g.path + ".ratios";
  ck.array(v["ratios"], rpath, "one or more of 2, 3, 4");
  for (size_t i = 0; i < v["ratios"].size(); ++i) {
    const std::string p = fmt::format("{}[{}]", rpath, i);
    const int64_t r = ck.integer(v["ratios"][i], p, INT64_MIN, "2, 3, 4");
    if (r < 2 || r > 4) ck.error(p, "ratio {} is not supported (allowed: 2, 3, 4 for 4x, 9x, 16x fewer tokens)", r);
    ck.unique(g.ratios, r, p, fmt::format("ratio {}", r), rpath);
    g.ratios.push_back(r);
  }
  g.evals = v.contains("evals") ? parse_evals(ck, v["evals"], g.path + ".evals", evals) : evals;
  return g;
}

EvalSection parse_accuracy(const Checker& ck, const json& v) {
  EvalSection s;
  s.fields = ck.object(v, "$.accuracy", kAccuracyKeys);
  std::vector<std::string> names;
  for (const auto& p : accuracy_presets()) names.push_back(p.name);
  if (!v.contains("preset")) ck.error("$.accuracy.preset", "missing (allowed: {})", join(names));
  s.preset = ck.string(v["preset"], "$.accuracy.preset", join(names));
  if (std::find(names.begin(), names.end(), s.preset) == names.end())
    ck.error("$.accuracy.preset", "unknown accuracy preset '{}' (allowed: {})", s.preset, join(names));
  if (v.contains("seeds")) s.seeds = parse_seeds(ck, v["seeds"], "$.accuracy.seeds");
  for (const char* k : {"steps0", "steps1", "steps2"})
    if (v.contains(k)) ck.integer(v[k], std::string("$.accuracy.") + k, 0);
  for (const char* k : {"train_data", "test_data"})
    if (v.contains(k)) ck.string(v[k], std::string("$.accuracy.") + k, "a LLaVA-layout JSONL file");
  return s;
}

EvalSection parse_efficiency(const Checker& ck, const json& v) {
  EvalSection s;
  s.fields = ck.object(v, "$.efficiency", kEfficiencyKeys);
  if (!v.contains("preset")) ck.error("$.efficiency.preset", "missing (allowed: {})", join(preset_names()));
  s.preset = ck.string(v["preset"], "$.efficiency.preset", join(preset_names()));
  find_preset(s.preset, ck.file() + ": $.efficiency.preset");
  if (v.contains("seeds")) s.seeds = parse_seeds(ck, v["seeds"], "$.efficiency.seeds");
  const std::pair<const char*, int64_t> mins[] = {{"crops", 1}, {"text_tokens", 2}, {"batch", 1},
                                                  {"train_batch", 1}, {"warmup", 0}, {"reps", 1}};
  for (const auto& [k, min] : mins)
    if (v.contains(k)) ck.integer(v[k], std::string("$.efficiency.") + k, min);
  if (v.contains("stages")) {
    const auto names = efficiency_stage_names();
    const auto& a = ck.array(v["stages"], "$.efficiency.stages", "one or more of " + join(names));
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string p = fmt::format("$.efficiency.stages[{}]", i);
      const auto stage = ck.string(a[i], p, join(names));
      if (std::find(names.begin(), names.end(), stage) == names.end())
        ck.error(p, "unknown stage '{}' (allowed: {})", stage, join(names));
    }
  }
  if (v.contains("device")) ck.string(v["device"], "$.efficiency.device", "cpu");
  return s;
}

int64_t section_int(const EvalSection& s, const char* key, int64_t fallback) {
  return s.fields.contains(key) ? s.fields[key].get<int64_t>() : fallback;
}

// Everything of an efficiency configuration but where the method sits: the
// runs that share it are measured together.
std::string group_signature(const json& config) {
  json c = config;
  for (const char* k : {"layer", "block_k", "external", "grid_out"}) c.erase(k);
  return sha256_hex("efficiency-group\n" + c.dump()).substr(0, 16);
}

std::string options_label(const MethodOptions& options) {
  if (options.empty()) return "";
  std::vector<std::string> items;
  for (const auto& [k, v] : options) items.push_back(k + "=" + v);
  return "{" + join(items, ",") + "}";
}

}  // namespace

std::string run_key(const std::string& eval, const json& config) {
  json c = config;
  c.erase("layer");
  return sha256_hex(eval + "\n" + c.dump()).substr(0, 16);
}

std::string SweepRun::label() const {
  MethodOptions options;
  for (const auto& [k, v] : config.at("method_options").items()) options[k] = v.get<std::string>();
  return fmt::format("{} {}{} {} (block {}/{}) r={} seed={}", eval, config.at("method").get<std::string>(),
                     options_label(options), config.at("layer").get<std::string>(), config.at("block_k").get<int64_t>(),
                     config.at("depth").get<int64_t>(), config.at("ratio").get<int64_t>(),
                     config.at("seed").get<uint64_t>());
}

PlannedRun SweepRun::planned() const { return {key, eval, config, grids}; }

Sweep parse_sweep(const json& spec, const std::string& file, const SweepOverrides& overrides) {
  const Checker ck(file);
  ck.object(spec, "$", kTopKeys);
  Sweep sweep;
  sweep.file = file;
  sweep.name = spec.contains("name") ? ck.string(spec["name"], "$.name") : fs::path(file).stem().string();
  if (sweep.name.empty() || sweep.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                         "0123456789_.-") != std::string::npos)
    ck.error("$.name", "'{}' is not a valid sweep name (allowed: letters, digits, '_', '.', '-')", sweep.name);
  if (spec.contains("description")) sweep.description = ck.string(spec["description"], "$.description");
  int threads = spec.contains("threads") ? static_cast<int>(ck.integer(spec["threads"], "$.threads", 1)) : 2;
  if (overrides.threads > 0) threads = overrides.threads;
  const GridPolicy policy =
      spec.contains("grid_policy")
          ? parse_grid_policy(ck.string(spec["grid_policy"], "$.grid_policy", "pad, interpolate, error"),
                              file + ": $.grid_policy")
          : GridPolicy::kPad;

  if (!spec.contains("evals")) ck.error("$.evals", "missing (allowed: one or both of {})", join(kEvals));
  const auto evals = parse_evals(ck, spec["evals"], "$.evals", kEvals);
  std::map<std::string, EvalSection> sections;
  for (const auto& e : kEvals) {
    const bool used = std::find(evals.begin(), evals.end(), e) != evals.end();
    if (used && !spec.contains(e)) ck.error("$." + e, "missing: $.evals includes {} (allowed: an object with {})", e,
                                            join(e == "accuracy" ? kAccuracyKeys : kEfficiencyKeys));
    if (!used && spec.contains(e))
      ck.error("$." + e, "given, but $.evals does not include '{}' (allowed: add it to $.evals or remove this)", e);
    if (used) sections[e] = e == "accuracy" ? parse_accuracy(ck, spec[e]) : parse_efficiency(ck, spec[e]);
  }

  if (!spec.contains("grids")) ck.error("$.grids", "missing (allowed: an array of grids with {})", join(kGridKeys));
  ck.array(spec["grids"], "$.grids", "one or more grids with " + join(kGridKeys));
  std::vector<SpecGrid> grids;
  for (size_t i = 0; i < spec["grids"].size(); ++i) {
    grids.push_back(parse_grid(ck, spec["grids"][i], i, evals));
    for (size_t j = 0; j + 1 < grids.size(); ++j)
      if (grids[j].name == grids.back().name)
        ck.error(grids.back().path + ".name", "'{}' repeats $.grids[{}].name", grids.back().name, j);
  }

  // Every placement against every preset it will meet, before any run is built.
  for (const auto& g : grids)
    for (const auto& e : g.evals) {
      const auto& s = sections.at(e);
      const int64_t depth = e == "accuracy" ? find_accuracy_preset(s.preset).model.encoder.depth()
                                            : find_preset(s.preset).model.encoder.depth();
      for (size_t i = 0; i < g.placements.size(); ++i)
        Placement::parse(g.placements[i],
                         fmt::format("{}: {} ({} preset '{}', {} blocks)", file, g.placement_paths[i], e, s.preset, depth))
            .resolve(depth);
    }

  std::map<std::string, size_t> by_key;
  std::map<std::string, size_t> unit_of_group;
  std::set<std::string> notes;
  for (const auto& e : evals) {
    const auto& s = sections.at(e);
    for (uint64_t seed : s.seeds)
      for (const auto& g : grids) {
        if (std::find(g.evals.begin(), g.evals.end(), e) == g.evals.end()) continue;
        for (const auto& m : g.methods)
          for (const auto& layer_given : g.placements)
            for (int64_t ratio_given : g.ratios) {
              // `none` is the identity: neither where it sits nor the ratio changes it.
              const bool none = m.name == "none";
              const std::string layer = none ? "1" : layer_given;
              const int64_t ratio = none ? 2 : ratio_given;
              SweepRun run;
              run.eval = e;
              const std::string where =
                  fmt::format("{}: {} ({} {}{} at {}, r={}, seed {})", file, m.path, e, m.name, options_label(m.options),
                              layer_given, ratio_given, seed);
              try {
                // The fields both configurations share; the struct types differ.
                auto common = [&](auto& c) {
                  c.preset = s.preset;
                  c.method = m.name;
                  c.method_options = m.options;
                  c.layer = layer;
                  c.ratio = ratio;
                  c.grid_policy = policy;
                  c.seed = seed;
                  c.threads = threads;
                };
                if (e == "accuracy") {
                  AccuracyConfig c;
                  common(c);
                  c.cache_dir = overrides.cache_dir;
                  c.steps0 = section_int(s, "steps0", -1);
                  c.steps1 = section_int(s, "steps1", -1);
                  c.steps2 = section_int(s, "steps2", -1);
                  if (s.fields.contains("train_data")) c.train_data = s.fields["train_data"].get<std::string>();
                  if (s.fields.contains("test_data")) c.test_data = s.fields["test_data"].get<std::string>();
                  run.config = resolve_accuracy_config(c);
                  run.accuracy = c;
                } else {
                  EfficiencyConfig c;
                  common(c);
                  c.crops = section_int(s, "crops", EfficiencyConfig::kUnset);
                  c.text_tokens = section_int(s, "text_tokens", EfficiencyConfig::kUnset);
                  c.batch = section_int(s, "batch", EfficiencyConfig::kUnset);
                  c.train_batch = section_int(s, "train_batch", EfficiencyConfig::kUnset);
                  c.warmup = section_int(s, "warmup", EfficiencyConfig::kUnset);
                  c.reps = section_int(s, "reps", EfficiencyConfig::kUnset);
                  if (s.fields.contains("stages")) c.stages = s.fields["stages"].get<std::vector<std::string>>();
                  if (s.fields.contains("device")) c.device = s.fields["device"].get<std::string>();
                  run.config = resolve_efficiency_config(c);
                  run.efficiency = c;
                }
              } catch (const Error& err) {
                fail("{}: {}", where, err.what());
              }
              run.key = run_key(e, run.config);
              auto found = by_key.find(run.key);
              if (found != by_key.end()) {
                auto& existing = sweep.runs[found->second];
                if (std::find(existing.grids.begin(), existing.grids.end(), g.name) == existing.grids.end())
                  existing.grids.push_back(g.name);
                const auto& first_layer = existing.config["layer"].get<std::string>();
                if (!none && first_layer != layer)
                  notes.insert(fmt::format("{} preset '{}' ({} blocks): placements {} and {} both resolve to block {}; "
                                           "run once, stored as {}",
                                           e, s.preset, run.config["depth"].get<int64_t>(), first_layer, layer,
                                           run.config["block_k"].get<int64_t>(), first_layer));
                continue;
              }
              if (none && (layer_given != "1" || ratio_given != 2))
                notes.insert(fmt::format("{}: `none` does not depend on the placement or the ratio; one run per seed, "
                                         "stored as layer 1, r=2",
                                         e));
              run.grids = {g.name};
              by_key[run.key] = sweep.runs.size();
              const size_t index = sweep.runs.size();
              if (e == "accuracy") {
                sweep.units.push_back({{index}, ""});
              } else {
                const std::string group = group_signature(run.config);
                auto u = unit_of_group.find(group);
                if (u == unit_of_group.end()) {
                  unit_of_group[group] = sweep.units.size();
                  sweep.units.push_back({{index}, group});
                } else {
                  sweep.units[u->second].runs.push_back(index);
                }
              }
              sweep.runs.push_back(std::move(run));
            }
      }
  }
  sweep.notes.assign(notes.begin(), notes.end());
  return sweep;
}

Sweep load_sweep(const std::string& path, const SweepOverrides& overrides) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open sweep spec", path);
  std::stringstream buf;
  buf << in.rdbuf();
  json spec;
  try {
    spec = json::parse(buf.str());
  } catch (const json::parse_error& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  return parse_sweep(spec, path, overrides);
}

std::pair<int, int> parse_shard(const std::string& text, const std::string& where) {
  const auto slash = text.find('/');
  std::optional<int64_t> i, n;
  if (slash != std::string::npos) {
    i = parse_int(text.substr(0, slash));
    n = parse_int(text.substr(slash + 1));
  }
  if (!i || !n || *n < 1 || *i < 1 || *i > *n || *n > 100000)
    fail("{}: '{}' is not a shard (allowed: i/n with 1 <= i <= n, e.g. 1/4 .. 4/4)", where, text);
  return {static_cast<int>(*i), static_cast<int>(*n)};
}

Sweep shard_sweep(const Sweep& sweep, int index, int count) {
  Sweep out;
  out.file = sweep.file;
  out.name = sweep.name;
  out.description = sweep.description;
  out.notes = sweep.notes;
  for (size_t u = static_cast<size_t>(index - 1); u < sweep.units.size(); u += static_cast<size_t>(count)) {
    SweepUnit unit{{}, sweep.units[u].group_key};
    for (size_t r : sweep.units[u].runs) {
      unit.runs.push_back(out.runs.size());
      out.runs.push_back(sweep.runs[r]);
    }
    out.units.push_back(unit);
  }
  return out;
}

}  // namespace laco
