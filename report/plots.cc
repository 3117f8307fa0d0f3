#include "report/plots.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "methods/registry.h"
#include "report/render.h"

namespace laco {
namespace {

// Colour-blind-safe (Okabe-Ito), one per series in order.
const char* const kPalette[] = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442"};

struct Range {
  double lo = 0, hi = 1;
};

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

/// Padded to round numbers, with ticks every `step`.
Range nice_range(double lo, double hi, double& step) {
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  step = nice_step(hi - lo, 5);
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step};
}

std::string fmt_tick(double v, double step) {
  // A step of 2.5 (nice_step's 2.5 x 10^0) needs its decimal: 2.5, 5.0, 7.5, not 2, 5, 8.
  const int decimals = step >= 1 ? (std::fabs(step - std::round(step)) > 1e-9 ? 1 : 0)
                                 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  std::string s = fmt::format("{:.{}f}", v, decimals);
  return s == "-0" ? "0" : s;
}

std::string esc(const std::string& text) { return html_escape(text); }

// A marker of `shape` at (x, y), with an optional tooltip.
std::string marker(int shape, double x, double y, const std::string& tooltip) {
  const std::string title = tooltip.empty() ? "" : "<title>" + esc(tooltip) + "</title>";
  switch (shape % 5) {
    case 1:
      return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"7\" height=\"7\">{}</rect>\n", x - 3.5, y - 3.5, title);
    case 2:
      return fmt::format("<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\">{}</polygon>\n", x, y - 4.5,
                         x - 4.5, y + 3.5, x + 4.5, y + 3.5, title);
    case 3:
      return fmt::format("<polygon points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\">{}</polygon>\n", x,
                         y - 5, x + 5, y, x, y + 5, x - 5, y, title);
    case 4:
      return fmt::format("<path d=\"M{:.1f},{:.1f}L{:.1f},{:.1f}M{:.1f},{:.1f}L{:.1f},{:.1f}\" stroke-width=\"2\" "
                         "fill=\"none\">{}</path>\n",
                         x - 4, y - 4, x + 4, y + 4, x - 4, y + 4, x + 4, y - 4, title);
    default:
      return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\">{}</circle>\n", x, y, title);
  }
}

}  // namespace

std::vector<std::pair<double, double>> pareto_front(std::vector<std::pair<double, double>> points) {
  // Sweep from the highest x: a point is on the front when its y beats every point to its right.
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  std::vector<std::pair<double, double>> front;
  double best_y = -INFINITY;
  for (const auto& p : points)
    if (p.second > best_y) {
      front.push_back(p);
      best_y = p.second;
    }
  std::reverse(front.begin(), front.end());
  return front;
}

double error_bar_coverage(const Chart& c) {
  double least = 1;
  bool any = false;
  for (const auto& s : c.series)
    for (const auto& d : s.details)
      for (const auto& ci : {d.x_ci, d.y_ci})
        if (ci && ci->coverage > 0) least = std::min(least, ci->coverage), any = true;
  return any ? least : 0;
}

std::string error_bar_note(const Chart& c, bool short_form) {
  const double least = error_bar_coverage(c);
  if (least <= 0) return "";
  if (least >= kFullCoverage) return short_form ? "error bars: 95% intervals" : "Error bars: 95% intervals.";
  const double percent = std::floor(1000 * least) / 10;
  return short_form ? fmt::format("error bars: >= {:g}% intervals", percent)
                    : fmt::format("Error bars: 95% intervals, but for timings of too few repetitions, whose bars are "
                                  "the widest they allow and cover with as little as {:g}%.",
                                  percent);
}

std::string render_svg(const Chart& c, int width, int height) {
  const double left = 64, right = c.legend_width, top = 34, bottom = 52;  // right margin holds the legend
  const double pw = width - left - right, ph = height - top - bottom;
  std::vector<std::pair<double, double>> all;
  for (const auto& s : c.series) all.insert(all.end(), s.points.begin(), s.points.end());

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<title>{}</title>\n<rect width=\"{}\" height=\"{}\" "
      "fill=\"#ffffff\"/>\n<text x=\"{}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
      width, height, width, height, esc(c.title), width, height, left, esc(c.title));
  if (all.empty()) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#666\">no finished runs to plot</text>\n</svg>\n", left,
                       top + ph / 2);
    return out;
  }
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& [x, y] : all) {
    x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  }
  for (const auto& s : c.series)  // error bars stay inside the axes
    for (const auto& d : s.details) {
      if (d.y_ci) y_lo = std::min(y_lo, d.y_ci->lo), y_hi = std::max(y_hi, d.y_ci->hi);
      if (d.x_ci && c.x_ticks.empty()) x_lo = std::min(x_lo, d.x_ci->lo), x_hi = std::max(x_hi, d.x_ci->hi);
    }
  for (const auto& [x, label] : c.x_ticks) x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
  double xs = 1, ys = 1;
  Range xr = c.x_ticks.empty() ? nice_range(x_lo, x_hi, xs) : Range{0, std::max(1.0, x_hi)};
  const Range yr = nice_range(y_lo, y_hi, ys);
  auto X = [&](double v) { return left + (v - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto Y = [&](double v) { return top + ph - (v - yr.lo) / (yr.hi - yr.lo) * ph; };

  // Grid, ticks and axis labels.
  out += "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double v = yr.lo; v <= yr.hi + ys / 2; v += ys)
    out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n", left, Y(v), left + pw, Y(v));
  out += "</g>\n<g fill=\"#333\" text-anchor=\"end\">\n";
  for (double v = yr.lo; v <= yr.hi + ys / 2; v += ys)
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", left - 6, Y(v) + 4, fmt_tick(v, ys));
  out += "</g>\n<g fill=\"#333\" text-anchor=\"middle\">\n";
  if (c.x_ticks.empty()) {
    for (double v = xr.lo; v <= xr.hi + xs / 2; v += xs)
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", X(v), top + ph + 18, fmt_tick(v, xs));
  } else {
    for (const auto& [v, label] : c.x_ticks)
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", X(v), top + ph + 18, esc(label));
  }
  out += "</g>\n";
  out += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
      pw, ph);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n", left + pw / 2,
                     height - 10, esc(c.x_label));
  out += fmt::format(
      "<text transform=\"translate(16 {:.1f}) rotate(-90)\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
      top + ph / 2, esc(c.y_label));

  if (c.pareto) {
    const auto front = pareto_front(all);
    std::string path;
    for (const auto& [x, y] : front) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", X(x), Y(y));
    out += fmt::format(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#999\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
        path);
    for (const auto& [x, y] : front)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"8\" fill=\"none\" stroke=\"#999\"/>\n", X(x), Y(y));
  }

  // Series, then the legend.
  for (size_t i = 0; i < c.series.size(); ++i) {
    const auto& s = c.series[i];
    const char* colour = kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
    out += fmt::format("<g stroke=\"{}\" fill=\"{}\">\n", colour, colour);
    if (s.lines && s.points.size() > 1) {
      std::string path;
      for (const auto& [x, y] : s.points) path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", X(x), Y(y));
      // Without markers the line carries the series' tooltip.
      out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke-width=\"{}\"{}{}\n", path,
                         s.markers ? "2" : "1.5", s.dashed ? " stroke-dasharray=\"4 3\"" : "",
                         s.markers ? "/>" : "><title>" + esc(s.name) + "</title></polyline>");
    }
    for (size_t k = 0; k < s.points.size() && s.markers; ++k) {
      const auto [x, y] = s.points[k];
      const PointDetail d = k < s.details.size() ? s.details[k] : PointDetail{};
      if (d.y_ci)  // 95% interval: a vertical bar with caps
        out += fmt::format("<path d=\"M{0:.1f},{1:.1f}V{2:.1f}M{3:.1f},{1:.1f}H{4:.1f}M{3:.1f},{2:.1f}H{4:.1f}\" "
                           "fill=\"none\" stroke-width=\"1\"/>\n",
                           X(x), Y(d.y_ci->lo), Y(d.y_ci->hi), X(x) - 3, X(x) + 3);
      if (d.x_ci)
        out += fmt::format("<path d=\"M{1:.1f},{0:.1f}H{2:.1f}M{1:.1f},{3:.1f}V{4:.1f}M{2:.1f},{3:.1f}V{4:.1f}\" "
                           "fill=\"none\" stroke-width=\"1\"/>\n",
                           Y(y), X(d.x_ci->lo), X(d.x_ci->hi), Y(y) - 3, Y(y) + 3);
      const std::string what = d.label.empty() ? s.name : d.label;
      out += marker(d.shape, X(x), Y(y), fmt::format("{}: ({}, {})", what, fmt::format("{:.4g}", x), fmt::format("{:.4g}", y)));
    }
    out += "</g>\n";
    const double ly = top + 8 + 18 * static_cast<double>(i);
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"{}/>"
        "{}<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\">{}</text>\n",
        left + pw + 12, ly, left + pw + 32, ly, colour, s.dashed ? " stroke-dasharray=\"4 3\"" : "",
        s.markers ? fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>", left + pw + 22, ly, colour)
                  : std::string(),
        left + pw + 38, ly + 4, esc(s.name));
  }
  for (size_t k = 0; k < c.shape_names.size(); ++k) {  // the shapes: one line each, in grey
    const double ly = top + 8 + 18.0 * static_cast<double>(c.series.size() + (c.pareto ? 1 : 0) + k);
    out += "<g fill=\"#666\" stroke=\"#666\">" + marker(static_cast<int>(k), left + pw + 22, ly, "") + "</g>";
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\">{}</text>\n", left + pw + 38, ly + 4,
                       esc(c.shape_names[k]));
  }
  if (c.pareto)
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#999\" stroke-dasharray=\"6 4\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#333\">Pareto front</text>\n",
        left + pw + 12, top + 8 + 18.0 * static_cast<double>(c.series.size()), left + pw + 32,
        top + 8 + 18.0 * static_cast<double>(c.series.size()), left + pw + 38,
        top + 12 + 18.0 * static_cast<double>(c.series.size()));
  const std::string bars = error_bar_note(c, true);
  if (!bars.empty())
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" fill=\"#666\">{}</text>\n", left + pw + 12,
                       height - 10, esc(bars));
  out += "</svg>\n";
  return out;
}

std::vector<Chart> report_charts(const RunIndex& index, const ReportOptions& o) {
  std::vector<std::pair<double, std::string>> ticks;
  for (const auto& p : index.placements()) ticks.emplace_back(index.fraction(p), p);

  Chart pareto;
  pareto.title = fmt::format("Accuracy vs inference throughput (r = {}, every placement)", o.ratio);
  pareto.x_label = fmt::format("inference throughput (requests/s, {})", index.efficiency_preset());
  pareto.y_label = fmt::format("average accuracy (%, {})", index.accuracy_preset());
  pareto.pareto = true;
  for (const auto& p : index.placements())  // marker shape = placement
    pareto.shape_names.push_back(p == index.external() ? p + " (after)" : "at " + p);  // fits the legend's 150 px

  Chart acc;
  acc.title = fmt::format("Accuracy vs placement (r = {})", o.ratio);
  acc.x_label = "placement (fraction of encoder depth; 1 = after the encoder)";
  acc.y_label = "average accuracy (%)";
  acc.x_ticks = ticks;

  Chart train;
  train.title = fmt::format("Training step time vs placement (r = {})", o.ratio);
  train.x_label = "placement (fraction of encoder depth; 1 = after the encoder)";
  train.y_label = fmt::format("training step (ms, {})", index.efficiency_preset());
  train.x_ticks = ticks;

  for (const auto& m : index.methods()) {
    PlotSeries p{m, {}, false, false}, a{m, {}, true, false}, t{m, {}, true, false};
    if (is_reference_method(m)) {
      // Placement does not apply: a flat reference line across the axis.
      const Stat acc_none = index.stat("accuracy", m, "", 0, "acc_mean");
      const Stat thr = index.stat("efficiency", m, "", 0, "throughput");
      const Stat step = index.stat("efficiency", m, "", 0, "train_step_time");
      if (!acc_none.missing() && !thr.missing()) {
        p.points.emplace_back(thr.mean, acc_none.mean);
        p.details.push_back({thr.ci, acc_none.ci, 0, "none (uncompressed)"});
      }
      a.dashed = t.dashed = true;
      if (!ticks.empty()) {
        for (double x : {ticks.front().first, ticks.back().first}) {
          if (!acc_none.missing()) a.points.emplace_back(x, acc_none.mean);
          if (!step.missing()) t.points.emplace_back(x, step.mean);
        }
      }
    } else {
      const auto& placements = index.placements();
      for (size_t i = 0; i < placements.size(); ++i) {
        const std::string& pl = placements[i];
        const double x = index.fraction(pl);
        const std::string label = fmt::format("{} at {}, r = {}", m, pl, o.ratio);
        const Stat am = index.stat("accuracy", m, pl, o.ratio, "acc_mean");
        const Stat thr = index.stat("efficiency", m, pl, o.ratio, "throughput");
        const Stat step = index.stat("efficiency", m, pl, o.ratio, "train_step_time");
        if (!am.missing() && !thr.missing()) {
          p.points.emplace_back(thr.mean, am.mean);
          p.details.push_back({thr.ci, am.ci, static_cast<int>(i), label});
        }
        if (!am.missing()) {
          a.points.emplace_back(x, am.mean);
          a.details.push_back({std::nullopt, am.ci, 0, label});
        }
        if (!step.missing()) {
          t.points.emplace_back(x, step.mean);
          t.details.push_back({std::nullopt, step.ci, 0, label});
        }
      }
    }
    pareto.series.push_back(p);
    acc.series.push_back(a);
    train.series.push_back(t);
  }
  return {pareto, acc, train};
}

}  // namespace laco
