#include "report/table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

namespace laco {

Column Column::label(const std::string& header) { return {header, "", 0, Better::kNone}; }

Column Column::of(const std::string& header, const std::string& metric, const std::string& eval,
                  const std::string& unit) {
  const MetricInfo& m = metric_info(metric, eval);
  return {header, unit.empty() ? m.unit : unit, m.decimals, m.better, m.spread(), m.exact(), metric, eval};
}

Column Column::change(const std::string& header, const std::string& id, const std::string& eval) {
  return {header, "", 1, Better::kNone, true, false, id, eval};
}

Cell Cell::text(std::string s) {
  Cell c;
  c.label = std::move(s);
  return c;
}

Cell Cell::value(const Stat& s) {
  Cell c;
  c.kind = CellKind::kStat;
  c.stat = s;
  return c;
}

Cell Cell::change(const Stat& percent) {
  Cell c;
  c.kind = CellKind::kChange;
  c.stat = percent;
  return c;
}

Cell Cell::difference(const Stat& delta) {
  Cell c;
  c.kind = CellKind::kDifference;
  c.stat = delta;
  return c;
}

void Table::add_row(std::vector<Cell> cells, bool is_reference, RowKey key) {
  cells.resize(columns.size());
  rows.push_back(std::move(cells));
  reference.push_back(is_reference);
  keys.push_back(std::move(key));
}

void Table::mark_best() {
  bool untested = false, tested = false, tested_benchmark = false;
  // The fewest repetitions (or paired rounds) behind a timing comparison that no result could make significant.
  std::optional<std::pair<int, Difference>> powerless;
  std::set<int> short_coverages;                 // in per mille, of intervals short of 95%
  std::map<int, std::set<std::string>> paired;   // rounds -> rows whose ratios were paired on them
  size_t unpaired = 0;                            // ratios of timings measured apart
  for (size_t c = 0; c < columns.size(); ++c) {
    for (size_t r = 0; r < rows.size(); ++r) {
      const Cell& cell = rows[r][c];
      if (cell.kind == CellKind::kLabel || cell.stat.missing()) continue;
      const auto& ci = cell.stat.ci;
      if (ci && ci->coverage > 0 && ci->coverage < kFullCoverage)
        short_coverages.insert(static_cast<int>(std::floor(ci->coverage * 1000 + 1e-9)));
      if (cell.kind == CellKind::kChange && ci) {
        if (cell.stat.rounds > 0) {
          std::string label;
          for (size_t k = 0; k < rows[r].size(); ++k) {
            const Cell& l = rows[r][k];
            if (l.kind != CellKind::kLabel || l.label.empty() || l.label == "-") continue;
            // A bare number (the generation table's r) says what it is.
            const bool number = l.label.find_first_not_of("0123456789") == std::string::npos;
            label += (label.empty() ? "" : " ") + (number ? columns[k].header + "=" + l.label : l.label);
          }
          paired[cell.stat.rounds].insert(label);
        } else {
          ++unpaired;
        }
      }
    }
    if (columns[c].better == Better::kNone) continue;
    // The best value, comparing what is printed: two means that print alike are a tie.
    const double scale = std::pow(10.0, columns[c].decimals);
    std::optional<size_t> best;
    auto printed = [&](size_t r) { return std::round(rows[r][c].stat.mean * scale); };
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto& cell = rows[r][c];
      if (reference[r] || cell.kind == CellKind::kLabel || cell.stat.missing()) continue;
      if (!best || (columns[c].better == Better::kHigher ? printed(r) > printed(*best) : printed(r) < printed(*best)))
        best = r;
    }
    if (!best) continue;
    const auto& top = rows[*best][c].stat.evidence;
    for (size_t r = 0; r < rows.size(); ++r) {
      auto& cell = rows[r][c];
      if (reference[r] || cell.kind == CellKind::kLabel || cell.stat.missing()) continue;
      if (printed(r) == printed(*best)) {
        cell.bold = true;
      } else if (columns[c].exact) {
        continue;
      } else if (top && cell.stat.evidence) {
        const Difference d = top->test(*cell.stat.evidence);
        cell.bold = !d.significant;
        (top->benchmark ? tested_benchmark : tested) = true;
        const bool timing = d.test == Difference::Test::kMannWhitney || d.test == Difference::Test::kSignedRank;
        if (timing && d.smallest_p >= 0.05 && (!powerless || d.n < powerless->first)) powerless = std::make_pair(d.n, d);
      } else {
        untested = true;
      }
    }
  }
  if (tested)
    notes.push_back("Bold: the best value and every value not significantly different from it at the 5% level "
                    "(accuracy: paired bootstrap on the same questions; timings: Wilcoxon signed-rank on the rounds "
                    "both were measured in, Mann-Whitney U on the repetitions of runs measured apart)");
  if (tested_benchmark)
    notes.push_back("Bold: the best value and every value not significantly different from it at the 5% level "
                    "(benchmark scores: paired bootstrap of the difference on the same questions, significant when its "
                    "95% interval excludes 0)");
  if (powerless) {
    const Difference& d = powerless->second;
    const bool rounds = d.test == Difference::Test::kSignedRank;
    notes.push_back(fmt::format("With {} {} a timing difference cannot reach the 5% level (the smallest two-sided {} p "
                                "is {:.2f}): bold timings here rank nothing; measure with more repetitions (--reps, a "
                                "spec's reps or claims; 6 paired rounds are the fewest that can) to rank speeds",
                                d.n, rounds ? "paired rounds" : "repetitions", rounds ? "signed-rank" : "Mann-Whitney",
                                d.smallest_p));
  }
  if (untested)
    notes.push_back("Bold without raw data (runs stored before schema version 2): the best printed value only, not "
                    "tested against the noise");
  if (!paired.empty() || unpaired > 0) {
    std::vector<std::string> parts;
    for (auto it = paired.rbegin(); it != paired.rend(); ++it)
      parts.push_back(fmt::format("{} round{} for {}", it->first, it->first == 1 ? "" : "s",
                                  fmt::join(it->second, ", ")));
    if (unpaired > 0)
      parts.push_back(fmt::format("{} ratio{} of runs measured apart (not paired)", unpaired, unpaired == 1 ? "" : "s"));
    notes.push_back(fmt::format("Rounds behind the ratios of timings (each round measures every configuration of the "
                                "group once; the ratio within a round cancels the machine's drift): {}; each ratio's "
                                "test of no difference (signed-rank on its rounds) is report.csv's p",
                                fmt::join(parts, "; ")));
  }
  if (!short_coverages.empty()) {
    std::vector<std::string> percents;
    for (int pm : short_coverages) percents.push_back(fmt::format("{:g}%", pm / 10.0));
    notes.push_back(fmt::format("† an interval short of 95%: too few repetitions for one, so it is the widest they "
                                "allow, covering with {} probability (the median of 3 repetitions, [min, max]: 75%; a "
                                "ratio of 3 paired rounds: 75%; of 3 against 3 repetitions measured apart: 90%; 6 "
                                "paired rounds are the fewest that reach 95%)",
                                fmt::join(percents, ", ")));
  }
}

}  // namespace laco
