#include "runner/sweep_spec.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "evals/registry.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/limits.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/checkpoint.h"
#include "harness/model/placement.h"
#include "methods/registry.h"

namespace laco {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The top-level keys: these and one section per evaluation (evaluation_names()).
const std::vector<std::string> kTopKeys = {"name", "description", "threads", "grid_policy", "evals", "grids"};
const std::vector<std::string> kGridKeys = {"name", "methods", "placements", "ratios", "evals", "init", "projector",
                                            "budgets", "seeds", "claims"};
const std::vector<std::string> kClaimKeys = {"method", "placement", "against", "rounds"};
const std::vector<std::string> kMethodKeys = {"name", "options"};

std::string option_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();  // true, false, numbers
}

// One of `allowed` at v[key] (absent: `fallback`); errors name the path and the allowed values.
std::string choice(const JsonChecker& ck, const json& v, const std::string& key, const std::string& path,
                   const std::vector<std::string>& allowed, const std::string& fallback) {
  if (!v.contains(key)) return fallback;
  const std::string text = ck.string(v[key], path + "." + key, join(allowed));
  if (std::find(allowed.begin(), allowed.end(), text) == allowed.end())
    ck.error(path + "." + key, "unknown value '{}' (allowed: {})", text, join(allowed));
  return text;
}

std::vector<uint64_t> parse_seeds(const JsonChecker& ck, const json& v, const std::string& path) {
  std::vector<uint64_t> seeds;
  std::map<uint64_t, size_t> seen;  // seed -> its index: a long list is checked in n log n, not n^2
  ck.array(v, path, fmt::format("one or more integers in [0, {}]", kMaxSeed));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const auto s = static_cast<uint64_t>(ck.integer(v[i], p, 0, kMaxSeed));
    auto it = seen.find(s);
    if (it != seen.end()) ck.error(p, "seed {} repeats {}[{}]", s, path, it->second);
    seen[s] = i;
    seeds.push_back(s);
  }
  return seeds;
}

GridMethod parse_method(const JsonChecker& ck, const json& v, const std::string& path) {
  const std::string allowed = join(method_names());
  GridMethod m;
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

std::string placement_text(const JsonChecker& ck, const json& v, const std::string& path) {
  const std::string allowed = "a depth fraction such as \"1/4\", 0.25 or 1, or \"block:K\"";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  ck.error(path, "expected a placement, got {} (allowed: {})", ck.describe(v), allowed);
}

std::vector<std::string> parse_evals(const JsonChecker& ck, const json& v, const std::string& path,
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

// A grid's "budgets": distinct integers >= 1, for a grid whose evaluations all train (EvaluationInfo::budgets).
std::vector<int64_t> parse_budgets(const JsonChecker& ck, const json& v, const std::string& path,
                                   const std::vector<std::string>& evals) {
  const std::string allowed = "one or more distinct integers >= 1, e.g. [1, 4, 16]";
  for (const auto& e : evals)
    if (!find_evaluation(e).budgets) {
      std::vector<std::string> able;
      for (const auto& info : evaluation_registry())
        if (info.budgets) able.push_back("\"" + info.name + "\"");
      ck.error(path, "budgets scale training steps, and this grid includes '{}', whose runs have none to scale "
               "(allowed: budgets in a grid whose \"evals\" are only [{}])", e, join(able));
    }
  std::vector<int64_t> budgets;
  ck.array(v, path, allowed);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const int64_t b = ck.integer(v[i], p, 1, INT64_MAX, "integers >= 1");
    ck.unique(budgets, b, p, fmt::format("budget {}", b), path);
    budgets.push_back(b);
  }
  return budgets;
}

// A grid's "claims" (SweepClaim), checked against the grid's methods, placements and evaluations.
std::vector<SweepClaim> parse_claims(const JsonChecker& ck, const json& v, const SweepGrid& g) {
  const std::string path = g.path + ".claims";
  std::vector<std::string> timed;
  for (const auto& e : g.evals)
    if (!find_evaluation(e).rounds_setting.empty()) timed.push_back(e);
  if (timed.empty()) {
    std::vector<std::string> able;
    for (const auto& info : evaluation_registry())
      if (!info.rounds_setting.empty()) able.push_back("\"" + info.name + "\"");
    ck.error(path, "claims compare timings, and this grid's evaluations ({}) time nothing (allowed: claims in a grid "
             "whose \"evals\" include {})", join(g.evals), join(able));
  }
  const std::string allowed = fmt::format("objects with {}", join(kClaimKeys));
  ck.array(v, path, allowed);
  std::vector<SweepClaim> claims;
  for (size_t i = 0; i < v.size(); ++i) {
    SweepClaim c;
    c.path = fmt::format("{}[{}]", path, i);
    ck.object(v[i], c.path, kClaimKeys);
    for (const char* required : {"method", "placement", "against"})
      if (!v[i].contains(required)) ck.error(c.path + "." + required, "missing (allowed keys: {})", join(kClaimKeys));
    c.method = parse_method(ck, v[i]["method"], c.path + ".method");
    std::vector<std::string> grid_methods;
    bool in_grid = false, has_reference = false;
    for (const auto& m : g.methods) {
      grid_methods.push_back(m.name + options_label(m.options));
      in_grid = in_grid || (m.name == c.method.name && m.options == c.method.options);
      has_reference = has_reference || find_method(m.name).reference;
    }
    if (!in_grid)
      ck.error(c.path + ".method", "'{}{}' is not a method of this grid (allowed: {})", c.method.name,
               options_label(c.method.options), join(grid_methods));
    if (find_method(c.method.name).reference)
      ck.error(c.path + ".method", "'{}' is the reference; claim a compressed method against it (allowed: {})",
               c.method.name, join(grid_methods));
    c.placement = placement_text(ck, v[i]["placement"], c.path + ".placement");
    if (std::find(g.placements.begin(), g.placements.end(), c.placement) == g.placements.end())
      ck.error(c.path + ".placement", "'{}' is not a placement of this grid (allowed: {})", c.placement,
               join(g.placements));
    const std::string& none = reference_method().name;
    std::vector<std::string> against_allowed = {"\"" + none + "\""};
    for (const auto& p : g.placements)
      if (p != c.placement) against_allowed.push_back("\"" + p + "\"");
    c.against = placement_text(ck, v[i]["against"], c.path + ".against");
    if (c.against == none) {
      if (!has_reference)
        ck.error(c.path + ".against", "'{}' is not among this grid's methods (allowed: add it to the grid, or one "
                 "of {})", none, join(std::vector<std::string>(against_allowed.begin() + 1, against_allowed.end())));
    } else if (c.against == c.placement ||
               std::find(g.placements.begin(), g.placements.end(), c.against) == g.placements.end()) {
      ck.error(c.path + ".against", "'{}' is not another placement of this grid or the reference (allowed: {})",
               c.against, join(against_allowed));
    }
    if (v[i].contains("rounds"))
      c.rounds = ck.integer(v[i]["rounds"], c.path + ".rounds", kMinClaimRounds, 1000000,
                            fmt::format("an integer >= {} (fewer rounds cannot give a 95% interval or a 5%-level "
                                        "signed-rank test)", kMinClaimRounds));
    claims.push_back(c);
  }
  return claims;
}

SweepGrid parse_grid(const JsonChecker& ck, const json& v, size_t index, const std::vector<std::string>& evals) {
  SweepGrid g;
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
  ck.array(v["placements"], ppath, "one or more depth fractions (" + join(standard_placements()) + ", 0.25) or block:K");
  for (size_t i = 0; i < v["placements"].size(); ++i) {
    const std::string p = fmt::format("{}[{}]", ppath, i);
    const auto text = placement_text(ck, v["placements"][i], p);
    Placement::parse(text, ck.file() + ": " + p);  // the form; the depth is checked per preset
    ck.unique(g.placements, text, p, "'" + text + "'", ppath);
    g.placements.push_back(text);
    g.placement_paths.push_back(p);
  }

  const std::string rpath = g.path + ".ratios";
  ck.array(v["ratios"], rpath, "one or more of " + supported_ratios_text());
  for (size_t i = 0; i < v["ratios"].size(); ++i) {
    const std::string p = fmt::format("{}[{}]", rpath, i);
    const int64_t r = ck.integer(v["ratios"][i], p, INT64_MIN, INT64_MAX, supported_ratios_text());
    check_ratio(r, ck.file() + ": " + p);
    ck.unique(g.ratios, r, p, fmt::format("ratio {}", r), rpath);
    g.ratios.push_back(r);
  }
  g.evals = v.contains("evals") ? parse_evals(ck, v["evals"], g.path + ".evals", evals) : evals;
  if (v.contains("budgets")) g.budgets = parse_budgets(ck, v["budgets"], g.path + ".budgets", g.evals);
  if (v.contains("seeds")) g.seeds = parse_seeds(ck, v["seeds"], g.path + ".seeds");
  g.init = choice(ck, v, "init", g.path, init_scheme_names(), "reference");
  g.projector = choice(ck, v, "projector", g.path, projector_choices(), "reference");
  if (v.contains("claims")) g.claims = parse_claims(ck, v["claims"], g);
  return g;
}

SweepSection parse_section(const JsonChecker& ck, const EvaluationInfo& info, const json& v) {
  const std::string path = "$." + info.name;
  SweepSection s;
  s.info = &info;
  // The keys every section may have beside the evaluation's own.
  auto keys = info.section_keys();
  keys.push_back("threads");
  keys.push_back("model");
  ck.object(v, path, keys);
  if (!v.contains("preset")) ck.error(path + ".preset", "missing (allowed: {})", join(info.presets));
  s.preset = ck.string(v["preset"], path + ".preset", join(info.presets));
  if (std::find(info.presets.begin(), info.presets.end(), s.preset) == info.presets.end())
    ck.error(path + ".preset", "unknown {} preset '{}' (allowed: {})", info.name, s.preset, join(info.presets));
  if (v.contains("model")) {
    s.model = ck.string(v["model"], path + ".model", "a checkpoint folder in the Hugging Face layout");
    try {
      read_checkpoint_config(s.model);
    } catch (const Error& e) {
      ck.error(path + ".model", "{}", e.what());
    }
  }
  if (v.contains("seeds")) s.seeds = parse_seeds(ck, v["seeds"], path + ".seeds");
  if (v.contains("threads")) s.threads = static_cast<int>(ck.integer(v["threads"], path + ".threads", 1, kMaxThreads));
  s.settings = parse_settings(ck, info.settings, v, path);
  return s;
}

}  // namespace

PlannedRun SweepRun::planned() const { return {key, spec, grids}; }

std::string SweepRun::label() const {
  return budget == 1 ? spec.label() : fmt::format("{} budget=x{}", spec.label(), budget);
}

Sweep parse_sweep(const json& spec, const std::string& file, const SweepOverrides& overrides) {
  const JsonChecker ck(file);
  const auto all_evals = evaluation_names();
  auto top_keys = kTopKeys;
  top_keys.insert(top_keys.end(), all_evals.begin(), all_evals.end());
  ck.object(spec, "$", top_keys);
  SweepDefinition d;
  d.file = file;
  d.name = spec.contains("name") ? ck.string(spec["name"], "$.name") : fs::path(file).stem().string();
  if (d.name.empty() || d.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "0123456789_.-") != std::string::npos)
    ck.error("$.name", "'{}' is not a valid sweep name (allowed: letters, digits, '_', '.', '-')", d.name);
  if (spec.contains("description")) d.description = ck.string(spec["description"], "$.description");
  if (spec.contains("threads")) d.threads = static_cast<int>(ck.integer(spec["threads"], "$.threads", 1, kMaxThreads));
  if (spec.contains("grid_policy"))
    d.grid_policy = parse_grid_policy(ck.string(spec["grid_policy"], "$.grid_policy", join(grid_policy_names())),
                                      file + ": $.grid_policy");

  if (!spec.contains("evals")) ck.error("$.evals", "missing (allowed: one or more of {})", join(all_evals));
  d.evals = parse_evals(ck, spec["evals"], "$.evals", all_evals);
  for (const auto& info : evaluation_registry()) {
    const std::string& e = info.name;
    const bool used = std::find(d.evals.begin(), d.evals.end(), e) != d.evals.end();
    if (used && !spec.contains(e))
      ck.error("$." + e, "missing: $.evals includes {} (allowed: an object with {})", e, join(info.section_keys()));
    if (!used && spec.contains(e))
      ck.error("$." + e, "given, but $.evals does not include '{}' (allowed: add it to $.evals or remove this)", e);
    if (used) d.sections[e] = parse_section(ck, info, spec[e]);
  }

  if (!spec.contains("grids")) ck.error("$.grids", "missing (allowed: an array of grids with {})", join(kGridKeys));
  ck.array(spec["grids"], "$.grids", "one or more grids with " + join(kGridKeys));
  for (size_t i = 0; i < spec["grids"].size(); ++i) {
    d.grids.push_back(parse_grid(ck, spec["grids"][i], i, d.evals));
    for (size_t j = 0; j + 1 < d.grids.size(); ++j)
      if (d.grids[j].name == d.grids.back().name)
        ck.error(d.grids.back().path + ".name", "'{}' repeats $.grids[{}].name", d.grids.back().name, j);
  }
  return expand_sweep(d, overrides);
}

Sweep expand_sweep(const SweepDefinition& d, const SweepOverrides& overrides) {
  const std::string& file = d.file;
  const auto& evals = d.evals;
  const auto& sections = d.sections;
  const auto& grids = d.grids;
  const GridPolicy policy = d.grid_policy;
  const int threads = overrides.threads > 0 ? overrides.threads : d.threads;
  for (const auto& e : overrides.evals)
    if (std::find(evals.begin(), evals.end(), e) == evals.end())
      fail("--evals: '{}' is not an evaluation of {} (allowed: {})", e, file, join(evals));
  Sweep sweep;
  sweep.file = file;
  sweep.name = d.name;
  sweep.description = d.description;
  // The evaluations whose runs this expansion makes (--evals; all without it).
  auto wanted = [&](const std::string& e) {
    return overrides.evals.empty() || std::find(overrides.evals.begin(), overrides.evals.end(), e) != overrides.evals.end();
  };
  // How many runs the grids ask for (before de-duplication), before one is built.
  uint64_t asked = 0;
  for (const auto& e : evals) {
    if (!wanted(e)) continue;
    for (const auto& g : grids) {
      if (std::find(g.evals.begin(), g.evals.end(), e) == g.evals.end()) continue;
      const uint64_t seeds = (g.seeds.empty() ? sections.at(e).seeds : g.seeds).size();
      uint64_t n = seeds;
      for (uint64_t factor : {g.methods.size(), g.placements.size(), g.ratios.size(), g.budgets.size()})
        n = factor != 0 && n > (uint64_t{1} << 62) / factor ? uint64_t{1} << 62 : n * factor;
      asked = std::min(asked + n, uint64_t{1} << 62);
    }
  }
  if (overrides.max_runs > 0) {
    if (asked > overrides.max_runs)
      fail("{}: the spec asks for {} runs, more than --max-runs {} (allowed: raise --max-runs)", file, asked,
           overrides.max_runs);
  } else {
    check_input_limit(InputLimit::kSweepRuns, file + ": the spec's grids", asked, "laco sweep --max-runs N");
  }

  // Each evaluation's encoder depth, once (a checkpoint's is read from its config.json).
  std::map<std::string, int64_t> depth_of;
  for (const auto& [e, s] : sections) depth_of[e] = s.info->encoder_depth(s.preset, s.model);
  // Every placement against every preset it will meet, before any run is built.
  for (const auto& g : grids)
    for (const auto& e : g.evals) {
      const auto& s = sections.at(e);
      const int64_t depth = depth_of.at(e);
      for (size_t i = 0; i < g.placements.size(); ++i)
        Placement::parse(g.placements[i],
                         fmt::format("{}: {} ({} preset '{}', {} blocks)", file, g.placement_paths[i], e, s.preset, depth))
            .resolve(depth);
    }

  std::map<std::string, size_t> by_key;
  std::map<std::string, size_t> unit_of_group;
  std::set<std::string> notes;
  // The configurations claims name, and where each configuration's run is
  // (evaluation, method, block, ratio, seed; `none`: evaluation, seed).
  struct Claimed {
    const SweepGrid* grid;
    const GridMethod* method;  ///< null: the reference
    std::string placement;
    int64_t rounds;
  };
  std::vector<Claimed> claimed;
  for (const auto& g : grids)
    for (const auto& cl : g.claims) {
      claimed.push_back({&g, &cl.method, cl.placement, cl.rounds});
      claimed.push_back({&g, cl.against == reference_method().name ? nullptr : &cl.method,
                         cl.against == reference_method().name ? std::string() : cl.against, cl.rounds});
    }
  auto block_in = [&](const std::string& e, const std::string& placement) {
    return Placement::parse(placement, file).resolve(depth_of.at(e));
  };
  auto config_id = [](const std::string& e, const std::string& method, int64_t block, int64_t ratio, uint64_t seed) {
    return fmt::format("{}|{}|{}|{}|{}", e, method, block, ratio, seed);
  };
  std::map<std::string, size_t> run_of_config;
  for (const auto& e : evals) {
    if (!wanted(e)) continue;
    const auto& s = sections.at(e);
    // The command line's threads, else the section's, else the spec's top level.
    const int section_threads = overrides.threads > 0 || s.threads == 0 ? threads : s.threads;
    // Seed-major over the section's seeds and every grid's own, each grid at its seeds.
    std::vector<uint64_t> seeds = s.seeds;
    for (const auto& g : grids)
      for (uint64_t seed : g.seeds)
        if (std::find(seeds.begin(), seeds.end(), seed) == seeds.end()) seeds.push_back(seed);
    for (uint64_t seed : seeds)
      for (const auto& g : grids) {
        if (std::find(g.evals.begin(), g.evals.end(), e) == g.evals.end()) continue;
        const auto& grid_seeds = g.seeds.empty() ? s.seeds : g.seeds;
        if (std::find(grid_seeds.begin(), grid_seeds.end(), seed) == grid_seeds.end()) continue;
        for (const auto& m : g.methods)
          for (const auto& layer_given : g.placements)
            for (int64_t ratio_given : g.ratios)
              for (int64_t budget : g.budgets) {
              // `none` is the identity: neither where it sits nor the ratio changes it.
              const bool none = find_method(m.name).reference;
              // A method inside the LM leaves the encoder's tokens complete: it sits after the encoder.
              const bool in_lm = find_method(m.name).site == MethodSite::kInLm;
              RunRequest request;
              request.preset = s.preset;
              request.model = s.model;
              request.method = m.name;
              request.method_options = m.options;
              request.layer = none || in_lm ? kAfterEncoder : layer_given;
              if (in_lm && layer_given != kAfterEncoder)
                notes.insert(fmt::format("{}: `{}` acts inside the LM (after its layer K); the encoder placement does "
                                         "not apply: one run per ratio and seed, stored as layer 1",
                                         e, m.name));
              request.ratio = none ? supported_ratios().front() : ratio_given;
              request.grid_policy = policy;
              request.init = g.init;
              request.projector = g.projector;
              request.seed = seed;
              request.threads = section_threads;
              request.allow_untrained = s.allow_untrained;
              // Budget 1 leaves the settings as they are: the same run, the same key, as without the grid key.
              json settings = s.settings;
              if (budget != 1) settings[kBudgetSetting] = budget;
              // A run of a claimed comparison takes at least the claim's rounds.
              int64_t claim_rounds = 0;
              const std::string& rounds_key = s.info->rounds_setting;
              if (!rounds_key.empty())
                for (const auto& cl : claimed) {
                  const auto& cg = *cl.grid;
                  const auto& claim_seeds = cg.seeds.empty() ? s.seeds : cg.seeds;
                  if (std::find(cg.evals.begin(), cg.evals.end(), e) == cg.evals.end() ||
                      std::find(claim_seeds.begin(), claim_seeds.end(), seed) == claim_seeds.end())
                    continue;
                  const bool match =
                      cl.method == nullptr
                          ? none
                          : !none && cl.method->name == m.name && cl.method->options == m.options &&
                                std::find(cg.ratios.begin(), cg.ratios.end(), ratio_given) != cg.ratios.end() &&
                                block_in(e, cl.placement) == block_in(e, request.layer);
                  if (match) claim_rounds = std::max(claim_rounds, cl.rounds);
                }
              SweepRun run;
              try {
                run.spec = s.info->resolve(request, settings);
                if (claim_rounds > 0 && to_json(run.spec).value(rounds_key, int64_t{0}) < claim_rounds) {
                  settings[rounds_key] = claim_rounds;
                  run.spec = s.info->resolve(request, settings);
                }
              } catch (const Error& err) {
                fail("{}: {} ({} {}{} at {}, r={}, seed {}{}): {}", file, m.path, e, m.name, options_label(m.options),
                     layer_given, ratio_given, seed, budget == 1 ? std::string() : fmt::format(", budget x{}", budget),
                     err.what());
              }
              run.key = run.spec.key();
              run.budget = budget;
              run_of_config.emplace(none ? config_id(e, m.name, 0, 0, seed)
                                         : config_id(e, m.name + options_label(m.options), run.spec.block_k,
                                                     ratio_given, seed),
                                    by_key.count(run.key) ? by_key[run.key] : sweep.runs.size());
              auto found = by_key.find(run.key);
              if (found != by_key.end()) {
                auto& existing = sweep.runs[found->second];
                if (std::find(existing.grids.begin(), existing.grids.end(), g.name) == existing.grids.end())
                  existing.grids.push_back(g.name);
                const auto& first_layer = existing.spec.layer;
                if (!none && first_layer != request.layer)
                  notes.insert(fmt::format("{} preset '{}' ({} blocks): placements {} and {} both resolve to block {}; "
                                           "run once, stored as {}",
                                           e, s.preset, run.spec.depth, first_layer, request.layer, run.spec.block_k,
                                           first_layer));
                continue;
              }
              if (none && (layer_given != kAfterEncoder || ratio_given != supported_ratios().front()))
                notes.insert(fmt::format("{}: `{}` does not depend on the placement or the ratio; one run per seed, "
                                         "stored as layer {}, r={}",
                                         e, m.name, kAfterEncoder, supported_ratios().front()));
              run.grids = {g.name};
              by_key[run.key] = sweep.runs.size();
              const size_t index = sweep.runs.size();
              const std::string group = s.info->group(run.spec);
              auto u = group.empty() ? unit_of_group.end() : unit_of_group.find(group);
              if (u == unit_of_group.end()) {
                if (!group.empty()) unit_of_group[group] = sweep.units.size();
                sweep.units.push_back({{index}, group});
              } else {
                sweep.units[u->second].runs.push_back(index);
              }
              sweep.runs.push_back(std::move(run));
            }
      }
  }
  // Each claim at each ratio and seed of its grid: the two runs it compares.
  for (const auto& g : grids)
    for (const auto& cl : g.claims)
      for (const auto& e : g.evals) {
        const auto& s = sections.at(e);
        if (!wanted(e) || s.info->rounds_setting.empty()) continue;
        const std::string method = cl.method.name + options_label(cl.method.options);
        const bool vs_none = cl.against == reference_method().name;
        for (uint64_t seed : g.seeds.empty() ? s.seeds : g.seeds)
          for (int64_t ratio : g.ratios) {
            auto a = run_of_config.find(config_id(e, method, block_in(e, cl.placement), ratio, seed));
            auto b = run_of_config.find(vs_none ? config_id(e, cl.against, 0, 0, seed)
                                                : config_id(e, method, block_in(e, cl.against), ratio, seed));
            if (a == run_of_config.end() || b == run_of_config.end()) continue;  // e.g. fastv: no encoder placement
            sweep.claims.push_back({fmt::format("{} {} {} vs {}, r={}, seed {}", e, method, cl.placement,
                                                vs_none ? cl.against : method + " " + cl.against, ratio, seed),
                                    a->second, b->second, cl.rounds});
          }
      }
  // A fine-tune saves its model into its own folder: two runs into one would overwrite each other.
  std::map<std::string, const SweepRun*> out_of;
  for (const auto& r : sweep.runs) {
    if (!r.spec.is_finetune()) continue;
    const auto [it, fresh] = out_of.emplace(r.spec.finetune().out, &r);
    if (!fresh)
      fail("{}: fine-tunes {} and {} would both save to --out {} (allowed: one fine-tune per folder: give one "
           "method, placement, ratio and seed, or a section per folder)",
           file, it->second->label(), r.label(), r.spec.finetune().out);
  }
  sweep.notes.assign(notes.begin(), notes.end());
  return sweep;
}

Sweep load_sweep(const std::string& path, const SweepOverrides& overrides) {
  json spec;
  const std::string problem = parse_json(read_file_bytes(path), spec);
  if (!problem.empty()) fail("{}: invalid JSON: {}", path, problem);
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
