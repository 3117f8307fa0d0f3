#include "report/render.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {

namespace {

enum class Markup { kPlain, kLatex };

// † after an interval short of 95% (Table::mark_best's note says what it covers).
std::string short_mark(const Cell& cell, Markup markup) {
  if (!cell.stat.ci || cell.stat.ci->coverage <= 0 || cell.stat.ci->coverage >= kFullCoverage) return "";
  return markup == Markup::kLatex ? "$^\\dagger$" : "†";
}

std::string cell_text(const Cell& cell, const Column& column, Markup markup) {
  switch (cell.kind) {
    case CellKind::kLabel:
      return markup == Markup::kLatex ? latex_escape(cell.label) : cell.label;
    case CellKind::kChange:
    case CellKind::kDifference: {
      // A change in % ("+12.3%") or a difference in the column's unit ("+12.3"), signed, with its interval.
      if (cell.stat.missing()) return markup == Markup::kLatex ? "--" : "-";
      auto signed_text = [&](double v) {
        std::string s = format_fixed(v, column.decimals);
        return s[0] == '-' ? s : "+" + s;
      };
      std::string s = signed_text(cell.stat.mean);
      if (cell.kind == CellKind::kChange) s += markup == Markup::kLatex ? "\\%" : "%";
      if (cell.stat.ci && cell.stat.ci->coverage > 0)
        s += fmt::format(" [{}, {}]{}", signed_text(cell.stat.ci->lo), signed_text(cell.stat.ci->hi),
                         short_mark(cell, markup));
      return s;
    }
    case CellKind::kStat:
      break;
  }
  if (cell.stat.missing()) return markup == Markup::kLatex ? "--" : "-";
  const std::string mean = format_fixed(cell.stat.mean, column.decimals);
  if (!column.spread) return mean;
  if (cell.stat.ci && cell.stat.ci->coverage > 0)
    return fmt::format("{} [{}, {}]{}", mean, format_fixed(cell.stat.ci->lo, column.decimals),
                       format_fixed(cell.stat.ci->hi, column.decimals), short_mark(cell, markup));
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
    } else if (out.compare(i, 3, "†") == 0) {
      fixed += "$^\\dagger$";
      i += 2;
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
  return "table,method,options,placement,block,ratio,metric,unit,mean,ci_low,ci_high,ci_coverage,std,n,rounds,p,bold\n";
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
      const int64_t block = col.eval == "accuracy"    ? key.block_accuracy
                            : col.eval == "benchmark" || col.eval == "finetune" ? key.block_benchmark
                                                      : key.block_efficiency;
      const bool missing = cell.stat.missing();
      const bool ci = !missing && cell.stat.ci && cell.stat.ci->coverage > 0;
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", t.name, csv_escape(key.method),
                         csv_escape(key.options), csv_escape(key.placement), block > 0 ? std::to_string(block) : "",
                         key.ratio > 0 ? std::to_string(key.ratio) : "", csv_escape(col.metric.empty() ? col.header : col.metric),
                         csv_escape(unit), missing ? "" : number(cell.stat.mean), ci ? number(cell.stat.ci->lo) : "",
                         ci ? number(cell.stat.ci->hi) : "", ci ? number(cell.stat.ci->coverage) : "",
                         missing || cell.stat.n < 2 ? "" : number(cell.stat.std), missing ? 0 : cell.stat.n,
                         cell.stat.rounds, !missing && cell.stat.p ? number(*cell.stat.p) : "", cell.bold ? 1 : 0);
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
