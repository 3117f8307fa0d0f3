#include "report/table.h"

#include <algorithm>
#include <cmath>
#include <optional>

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

void Table::add_row(std::vector<Cell> cells, bool is_reference, RowKey key) {
  cells.resize(columns.size());
  rows.push_back(std::move(cells));
  reference.push_back(is_reference);
  keys.push_back(std::move(key));
}

void Table::mark_best() {
  bool untested = false, tested = false;
  // The fewest repetitions behind a timing comparison that no result could make significant.
  std::optional<std::pair<size_t, double>> powerless;
  double min_coverage = 1;
  for (size_t c = 0; c < columns.size(); ++c) {
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto& ci = rows[r][c].stat.ci;
      if (rows[r][c].kind == CellKind::kStat && ci) min_coverage = std::min(min_coverage, ci->coverage);
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
        cell.bold = !top->differs(*cell.stat.evidence);
        tested = true;
        const size_t n = top->samples.size(), m = cell.stat.evidence->samples.size();
        if (n > 0 && m > 0) {
          // Complete separation is the most extreme ranking: two-sided p = 2 / C(n + m, n).
          double ways = 1;
          for (size_t i = 1; i <= std::min(n, m); ++i) ways = ways * static_cast<double>(n + m - std::min(n, m) + i) / i;
          const double smallest = std::min(1.0, 2.0 / ways);
          if (smallest >= 0.05 && (!powerless || std::min(n, m) < powerless->first))
            powerless = std::make_pair(std::min(n, m), smallest);
        }
      } else {
        untested = true;
      }
    }
  }
  if (tested)
    notes.push_back("Bold: the best value and every value not significantly different from it at the 5% level "
                    "(accuracy: paired bootstrap on the same questions; timings: Mann-Whitney U on the repetitions)");
  if (powerless)
    notes.push_back(fmt::format("With {} repetitions a timing difference cannot reach the 5% level (the smallest "
                                "two-sided Mann-Whitney p is {:.2f}, for complete separation): bold timings here rank "
                                "nothing; measure with more repetitions (--reps, a spec's reps) to rank speeds",
                                powerless->first, powerless->second));
  if (untested)
    notes.push_back("Bold without raw data (runs stored before schema version 2): the best printed value only, not "
                    "tested against the noise");
  if (min_coverage < 0.95)
    notes.push_back(fmt::format("Intervals of timings with few repetitions are the widest the repetitions allow: "
                                "[min, max] covers the median with {:.0f}% probability",
                                100 * min_coverage));
}

}  // namespace laco
