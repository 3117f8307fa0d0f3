// Inline SVG charts for the HTML report, written by the harness itself (no
// plotting library, no network): scatter and line series with labelled
// axes, a legend, and an optional Pareto front.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/tables.h"

namespace laco {

/// What a point carries beyond (x, y): intervals drawn as error bars, a
/// marker shape (0 circle, 1 square, 2 triangle, 3 diamond, 4 cross) and its
/// tooltip. Optional: a series may leave `details` empty.
struct PointDetail {
  std::optional<Interval> x_ci, y_ci;
  int shape = 0;
  std::string label;  ///< "laco at 1/4, r = 2"
};

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  ///< (x, y), drawn in this order
  bool lines = true;
  bool dashed = false;
  std::vector<PointDetail> details;  ///< empty, or one per point
  /// A marker at every point; off for a curve of many points (a loss per step): the line alone.
  bool markers = true;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  /// Custom x ticks (value, label); empty: evenly spaced round numbers.
  std::vector<std::pair<double, std::string>> x_ticks;
  /// Non-dominated points (maximising both x and y) to connect and ring.
  bool pareto = false;
  /// Names of the marker shapes used (shape index -> "1/4"), for the legend.
  std::vector<std::string> shape_names;
  /// The SVG's right margin, which holds the legend (px).
  int legend_width = 150;
};

/// The least coverage of the chart's error bars (0: none drawn), and what
/// a caption says of them: "Error bars: 95% intervals." or, when timings of
/// too few repetitions are among them, how little they cover (short_form:
/// the SVG's one line beside the legend).
double error_bar_coverage(const Chart& chart);
std::string error_bar_note(const Chart& chart, bool short_form = false);

/// Deterministic SVG (fixed decimals, no ids from the clock): same chart, same bytes.
/// 590 px wide: two sit side by side in the report page's 1208 px column (a 1280 px window).
std::string render_svg(const Chart& chart, int width = 590, int height = 400);

/// The same chart as a pgfplots tikzpicture (for LaTeX; needs \usepackage{pgfplots}).
std::string render_pgfplots(const Chart& chart);
/// The tikzpicture in a figure environment with the title as caption.
std::string render_pgfplots_figure(const Chart& chart);

/// The points on the upper-right Pareto front of `points`, by increasing x.
std::vector<std::pair<double, double>> pareto_front(std::vector<std::pair<double, double>> points);

/// Accuracy vs inference throughput (Pareto front marked), accuracy vs
/// placement, training-step time vs placement.
std::vector<Chart> report_charts(const RunIndex& index, const ReportOptions& options);

}  // namespace laco
