#include "report/table.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {

Stat Stat::of(const std::vector<double>& values) {
  Stat s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

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

Difference Evidence::test(const Evidence& other) const {
  Difference d;
  if (!samples.empty() && !other.samples.empty()) {
    d.test = Difference::Test::kMannWhitney;
    d.p = mann_whitney_p(samples, other.samples);
    d.significant = d.p < 0.05;
    return d;
  }
  if (answers.empty() || other.answers.empty()) return d;
  std::vector<PairedSeed> paired;
  for (const auto& [seed, strata] : answers) {
    auto it = other.answers.find(seed);
    if (it == other.answers.end()) continue;
    PairedSeed p;
    for (const auto& [stratum, questions] : strata) {
      auto st = it->second.find(stratum);
      if (st == it->second.end()) continue;
      std::vector<bool> a, b;
      for (const auto& [id, correct] : questions) {
        auto q = st->second.find(id);
        if (q == st->second.end()) continue;
        a.push_back(correct);
        b.push_back(q->second);
      }
      if (a.empty()) continue;
      p.a.push_back(std::move(a));
      p.b.push_back(std::move(b));
    }
    if (!p.a.empty()) paired.push_back(std::move(p));
  }
  if (paired.empty()) return d;  // no question in common: nothing to pair
  d.test = Difference::Test::kPairedBootstrap;
  d.interval = paired_difference_interval(paired, kind);
  d.significant = d.interval.lo > 0 || d.interval.hi < 0;
  return d;
}

std::shared_ptr<const Evidence> accuracy_evidence(const std::map<uint64_t, std::vector<Prediction>>& predictions,
                                                  const std::string& metric) {
  if (metric.rfind("acc_", 0) != 0 || predictions.empty()) return nullptr;
  const std::string family = metric.substr(4);
  auto evidence = std::make_shared<Evidence>();
  evidence->kind = family == "mean" ? AccuracyKind::kMeanOfStrata : AccuracyKind::kPooled;
  for (const auto& [seed, questions] : predictions)
    for (const auto& q : questions) {
      const std::string f = q.family.empty() ? "unlabelled" : q.family;  // as evaluate_vqa names them
      if (family == "mean" || family == "overall" || family == f) evidence->answers[seed][f][q.id] = q.correct;
    }
  if (evidence->answers.size() != predictions.size()) return nullptr;  // a family some seed lacks
  return evidence;
}

Stat accuracy_stat(const std::shared_ptr<const Evidence>& evidence) {
  std::vector<SeedAnswers> seeds;
  std::vector<double> per_seed;
  for (const auto& [seed, strata] : evidence->answers) {
    SeedAnswers answers;
    for (const auto& [f, questions] : strata) {
      answers.emplace_back();
      for (const auto& [id, correct] : questions) answers.back().push_back(correct);
    }
    per_seed.push_back(accuracy_percent(answers, evidence->kind));
    seeds.push_back(std::move(answers));
  }
  Stat s = Stat::of(per_seed);
  s.ci = accuracy_interval(seeds, evidence->kind);
  s.evidence = evidence;
  return s;
}

Stat timing_stat(std::vector<double> samples) {
  auto evidence = std::make_shared<Evidence>();
  evidence->samples = std::move(samples);
  Stat s;
  s.n = 1;
  s.mean = median(evidence->samples);
  if (evidence->samples.size() > 1) s.ci = median_interval(evidence->samples);
  s.evidence = evidence;
  return s;
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

namespace {

enum class Markup { kPlain, kLatex };

std::string cell_text(const Cell& cell, const Column& column, Markup markup) {
  switch (cell.kind) {
    case CellKind::kLabel:
      return markup == Markup::kLatex ? latex_escape(cell.label) : cell.label;
    case CellKind::kChange: {
      if (cell.stat.missing()) return markup == Markup::kLatex ? "--" : "-";
      auto signed_text = [&](double v) {
        std::string s = format_fixed(v, column.decimals);
        return s[0] == '-' ? s : "+" + s;
      };
      std::string s = signed_text(cell.stat.mean) + (markup == Markup::kLatex ? "\\%" : "%");
      if (cell.stat.ci && cell.stat.ci->coverage > 0)
        s += fmt::format(" [{}, {}]", signed_text(cell.stat.ci->lo), signed_text(cell.stat.ci->hi));
      return s;
    }
    case CellKind::kStat:
      break;
  }
  if (cell.stat.missing()) return markup == Markup::kLatex ? "--" : "-";
  const std::string mean = format_fixed(cell.stat.mean, column.decimals);
  if (!column.spread) return mean;
  if (cell.stat.ci && cell.stat.ci->coverage > 0)
    return fmt::format("{} [{}, {}]", mean, format_fixed(cell.stat.ci->lo, column.decimals),
                       format_fixed(cell.stat.ci->hi, column.decimals));
  if (cell.stat.n < 2) return mean;
  const std::string sd = format_fixed(cell.stat.std, column.decimals);
  return markup == Markup::kLatex ? fmt::format("{} $\\pm$ {}", mean, sd) : fmt::format("{} ± {}", mean, sd);
}

// Markdown's `code` becomes \texttt{code}; a lone "-" (a missing cell) becomes "--".
std::string latex_note(const std::string& note) {
  std::string out, plain;
  bool code = false;
  auto flush = [&] {
    out += latex_escape(plain);
    plain.clear();
  };
  for (size_t i = 0; i < note.size(); ++i) {
    if (note[i] == '`') {
      flush();
      out += code ? "}" : "\\texttt{";
      code = !code;
    } else if (note[i] == '-' && (i == 0 || note[i - 1] == ' ') && (i + 1 == note.size() || note[i + 1] == ' ')) {
      plain += "--";
    } else {
      plain += note[i];
    }
  }
  flush();
  return out + (code ? "}" : "");
}


}  // namespace

std::string format_cell(const Cell& cell, const Column& column) { return cell_text(cell, column, Markup::kPlain); }

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}':
        out += '\\';
        out += ch;
        break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += ch;
    }
  }
  // Unicode the default LaTeX setup lacks.
  std::string fixed;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 2, "±") == 0) {
      fixed += "$\\pm$";
      i += 1;
    } else if (out.compare(i, 2, "×") == 0) {
      fixed += "$\\times$";
      i += 1;
    } else {
      fixed += out[i];
    }
  }
  return fixed;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

PrintTable print_table(const Table& t) {
  PrintTable p;
  p.title = t.title;
  p.notes = t.notes;
  for (const auto& c : t.columns)
    p.columns.push_back({c.header, c.unit, c.better == Better::kNone && c.unit.empty() ? Align::kLeft : Align::kRight});
  for (const auto& row : t.rows) {
    std::vector<PrintValue> cells;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const std::string s = cell_text(row[c], t.columns[c], Markup::kPlain);
      cells.push_back(s);
    }
    p.add(std::move(cells));
  }
  return p;
}

std::string render_markdown(const Table& t) {
  PrintTable p = print_table(t);
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (size_t c = 0; c < t.columns.size(); ++c)
      if (t.rows[r][c].bold) p.rows[r][c] = "**" + std::get<std::string>(p.rows[r][c]) + "**";
  return make_markdown_printer({/*pad=*/false})->print(p);
}

std::string render_latex(const Table& t) {
  std::string spec;
  for (const auto& c : t.columns) spec += c.better == Better::kNone && c.unit.empty() ? "l" : "r";
  std::string out = "\\begin{table}[t]\n\\centering\n\\small\n";
  out += fmt::format("\\caption{{{}}}\n\\label{{tab:{}}}\n", latex_escape(t.title), t.name);
  out += fmt::format("\\begin{{tabular}}{{{}}}\n\\toprule\n", spec);
  std::vector<std::string> head, units;
  bool any_unit = false;
  for (const auto& c : t.columns) {
    head.push_back(latex_escape(c.header));
    units.push_back(c.unit.empty() ? "" : "(" + latex_escape(c.unit) + ")");
    any_unit = any_unit || !c.unit.empty();
  }
  auto line = [](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < cells.size(); ++i) s += (i ? " & " : "") + cells[i];
    return s + " \\\\\n";
  };
  out += line(head);
  if (any_unit) out += line(units);
  out += "\\midrule\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    for (size_t rule : t.rules)
      if (rule == r && r != 0) out += "\\midrule\n";
    std::vector<std::string> cells;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const std::string s = cell_text(t.rows[r][c], t.columns[c], Markup::kLatex);
      cells.push_back(t.rows[r][c].bold ? "\\textbf{" + s + "}" : s);
    }
    out += line(cells);
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  if (!t.notes.empty()) {
    out += "\\par\\smallskip\\footnotesize\n";
    for (size_t i = 0; i < t.notes.size(); ++i)
      out += latex_note(t.notes[i]) + (i + 1 < t.notes.size() ? ".\\\\\n" : ".\n");
  }
  out += "\\end{table}\n";
  return out;
}

std::string csv_header() {
  return "table,method,options,placement,block,ratio,metric,unit,mean,ci_low,ci_high,std,n,bold\n";
}

std::string render_csv_rows(const Table& t) {
  std::string out;
  auto number = [](double v) { return fmt::format("{:.6g}", v); };
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const RowKey key = r < t.keys.size() ? t.keys[r] : RowKey{};
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const auto& cell = t.rows[r][c];
      const auto& col = t.columns[c];
      if (cell.kind == CellKind::kLabel) continue;  // labels are the key columns
      const std::string unit = cell.kind == CellKind::kChange ? "%" : col.unit;
      const int64_t block = col.eval == "accuracy" ? key.block_accuracy : key.block_efficiency;
      const bool missing = cell.stat.missing();
      const bool ci = !missing && cell.stat.ci && cell.stat.ci->coverage > 0;
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", t.name, csv_escape(key.method),
                         csv_escape(key.options), csv_escape(key.placement), block > 0 ? std::to_string(block) : "",
                         key.ratio > 0 ? std::to_string(key.ratio) : "", csv_escape(col.metric.empty() ? col.header : col.metric),
                         csv_escape(unit), missing ? "" : number(cell.stat.mean), ci ? number(cell.stat.ci->lo) : "",
                         ci ? number(cell.stat.ci->hi) : "", missing || cell.stat.n < 2 ? "" : number(cell.stat.std),
                         missing ? 0 : cell.stat.n, cell.bold ? 1 : 0);
    }
  }
  return out;
}

namespace {
std::vector<std::string> split_keep(const std::string& text) {
  std::vector<std::string> parts(1);
  for (char ch : text) {
    if (ch == '`') {
      parts.push_back("`");
      parts.emplace_back();
    } else {
      parts.back() += ch;
    }
  }
  return parts;
}
}  // namespace

std::string render_html(const Table& t) {
  std::string out = fmt::format("<h2 id=\"{}\">{}</h2>\n<table>\n<thead><tr>", t.name, html_escape(t.title));
  for (const auto& c : t.columns)
    out += fmt::format("<th>{}{}</th>", html_escape(c.header),
                       c.unit.empty() ? "" : "<br><span class=\"unit\">" + html_escape(c.unit) + "</span>");
  out += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const bool rule = std::find(t.rules.begin(), t.rules.end(), r) != t.rules.end() && r != 0;
    out += rule ? "<tr class=\"rule\">" : "<tr>";
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const auto& cell = t.rows[r][c];
      const std::string s = html_escape(cell_text(cell, t.columns[c], Markup::kPlain));
      const bool num = cell.kind != CellKind::kLabel;
      out += fmt::format("<td{}>{}</td>", num ? " class=\"num\"" : "", cell.bold ? "<b>" + s + "</b>" : s);
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (!t.notes.empty()) {
    out += "<ul class=\"notes\">\n";
    for (const auto& n : t.notes) {
      // Markdown's `code` as <code>, the rest escaped.
      std::string li;
      bool code = false;
      for (const auto& part : split_keep(n)) {
        li += part == "`" ? (code ? "</code>" : "<code>") : html_escape(part);
        if (part == "`") code = !code;
      }
      out += "<li>" + li + (code ? "</code>" : "") + "</li>\n";
    }
    out += "</ul>\n";
  }
  return out;
}

}  // namespace laco
