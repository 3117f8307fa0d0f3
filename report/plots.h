// Inline SVG charts for the HTML report, written by the harness itself (no
// plotting library, no network): scatter and line series with labelled
// axes, a legend, and an optional Pareto front.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/tables.h"

namespace laco {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  ///< (x, y), drawn in this order
  bool lines = true;
  bool dashed = false;
};

struct Chart {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  /// Custom x ticks (value, label); empty: evenly spaced round numbers.
  std::vector<std::pair<double, std::string>> x_ticks;
  /// Non-dominated points (maximising both x and y) to connect and ring.
  bool pareto = false;
};

/// Deterministic SVG (fixed decimals, no ids from the clock): same chart, same bytes.
std::string render_svg(const Chart& chart, int width = 620, int height = 400);

/// The points on the upper-right Pareto front of `points`, by increasing x.
std::vector<std::pair<double, double>> pareto_front(std::vector<std::pair<double, double>> points);

/// Accuracy vs inference throughput (Pareto front marked), accuracy vs
/// placement, training-step time vs placement.
std::vector<Chart> report_charts(const RunIndex& index, const ReportOptions& options);

}  // namespace laco
