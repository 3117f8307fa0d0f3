// The report's charts as pgfplots code for the LaTeX report: the same Chart
// model the SVG renderer draws (series, 95% error bars, marker per
// placement, Pareto front), so the two cannot disagree. Compiles with
// Debian's texlive-pictures (pgfplots 1.18); the test suite compiles it.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/plots.h"
#include "report/render.h"

namespace laco {
namespace {

// pgfplots marks for the PointDetail shapes: circle, square, triangle, diamond, cross.
const char* const kMarks[] = {"*", "square*", "triangle*", "diamond*", "x"};
const char* const kMarkNames[] = {"circle", "square", "triangle", "diamond", "cross"};
// Okabe-Ito, as the SVG.
const char* const kColours[] = {"000000", "E69F00", "56B4E9", "009E73", "D55E00", "0072B2", "CC79A7", "F0E442"};

std::string num(double v) { return fmt::format("{:.6g}", v); }

}  // namespace

std::string render_pgfplots(const Chart& c) {
  std::string out = "\\begin{tikzpicture}\n";
  for (size_t i = 0; i < std::size(kColours); ++i)
    out += fmt::format("\\definecolor{{laco{}}}{{HTML}}{{{}}}\n", i, kColours[i]);
  std::vector<std::string> axis = {"width=0.62\\linewidth", "height=6.5cm",
                                   fmt::format("xlabel={{{}}}", latex_escape(c.x_label)),
                                   fmt::format("ylabel={{{}}}", latex_escape(c.y_label)),
                                   "legend pos=outer north east", "legend style={font=\\scriptsize}",
                                   "tick label style={font=\\scriptsize}", "label style={font=\\small}"};
  if (!c.x_ticks.empty()) {
    std::vector<std::string> at, labels;
    for (const auto& [x, label] : c.x_ticks) {
      at.push_back(num(x));
      labels.push_back("{" + latex_escape(label) + "}");
    }
    axis.push_back(fmt::format("xtick={{{}}}", fmt::join(at, ",")));
    axis.push_back(fmt::format("xticklabels={{{}}}", fmt::join(labels, ",")));
  }
  out += fmt::format("\\begin{{axis}}[{}]\n", fmt::join(axis, ", "));
  bool any = false;
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto& s = c.series[i];
    if (s.points.empty()) continue;
    any = true;
    const std::string colour = fmt::format("laco{}", i % std::size(kColours));
    std::string style = s.markers ? fmt::format("color={}, mark=*, mark size=1.8pt", colour)
                                  : fmt::format("color={}, mark=none", colour);
    style += s.lines && s.points.size() > 1 ? (s.dashed ? ", dashed" : ", solid") : ", only marks";
    style += ", error bars/.cd, x dir=both, x explicit, y dir=both, y explicit";
    // Per-point marker shapes (placements): scatter with an explicit symbolic class per point.
    const bool shapes = std::any_of(s.details.begin(), s.details.end(), [](const PointDetail& d) { return d.shape; });
    if (shapes) {
      std::vector<std::string> classes;
      for (size_t k = 0; k < std::size(kMarks); ++k)
        classes.push_back(fmt::format("s{}={{mark={},{}}}", k, kMarks[k], colour));
      style = fmt::format("color={}, only marks, scatter, point meta=explicit symbolic, scatter/classes={{{}}}, "
                          "error bars/.cd, x dir=both, x explicit, y dir=both, y explicit",
                          colour, fmt::join(classes, ","));
    }
    out += fmt::format("\\addplot+[{}] coordinates {{\n", style);
    for (size_t k = 0; k < s.points.size(); ++k) {
      const auto [x, y] = s.points[k];
      const PointDetail d = k < s.details.size() ? s.details[k] : PointDetail{};
      const double xp = d.x_ci ? d.x_ci->hi - x : 0, xm = d.x_ci ? x - d.x_ci->lo : 0;
      const double yp = d.y_ci ? d.y_ci->hi - y : 0, ym = d.y_ci ? y - d.y_ci->lo : 0;
      out += fmt::format("  ({}, {}) += ({}, {}) -= ({}, {}){}\n", num(x), num(y), num(xp), num(yp), num(xm), num(ym),
                         shapes ? fmt::format(" [s{}]", d.shape % std::size(kMarks)) : std::string());
    }
    out += "};\n";
    out += fmt::format("\\addlegendentry{{{}}}\n", latex_escape(s.name));
  }
  if (c.pareto && any) {
    std::vector<std::pair<double, double>> all;
    for (const auto& s : c.series) all.insert(all.end(), s.points.begin(), s.points.end());
    out += "\\addplot[gray, dashed, thick] coordinates {";
    for (const auto& [x, y] : pareto_front(all)) out += fmt::format(" ({}, {})", num(x), num(y));
    out += " };\n\\addlegendentry{Pareto front}\n";
  }
  if (!any) out += "\\addplot coordinates {(0,0)};\n\\addlegendentry{no finished runs to plot}\n";
  out += "\\end{axis}\n\\end{tikzpicture}\n";
  return out;
}

std::string render_pgfplots_figure(const Chart& c) {
  std::string shapes;
  if (!c.shape_names.empty()) {
    std::vector<std::string> names;
    for (size_t k = 0; k < c.shape_names.size(); ++k)
      names.push_back(fmt::format("{} {}", kMarkNames[k % std::size(kMarkNames)], latex_escape(c.shape_names[k])));
    shapes = fmt::format(" Markers: {}.", fmt::join(names, ", "));
  }
  const std::string bars = error_bar_note(c);
  return fmt::format("\\begin{{figure}}[t]\n\\centering\n{}\\caption{{{}.{}{}}}\n\\end{{figure}}\n",
                     render_pgfplots(c), latex_escape(c.title), bars.empty() ? "" : " " + latex_escape(bars), shapes);
}

}  // namespace laco
