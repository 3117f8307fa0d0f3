// Report tables and plots from a fixture of runs with known values: golden
// Markdown and LaTeX, mean +- std, bold-best, dashes for missing runs,
// byte-identical regeneration, and the HTML page in headless Chromium.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "evals/measure.h"
#include "harness/print/number.h"
#include "report/load.h"
#include "report/plots.h"
#include "report/report.h"
#include "report/stats.h"
#include "report/tables.h"
#include "report/render.h"
#include "results/query.h"
#include "results/schema.h"
#include "results/sqlite.h"
#include "results/store.h"
#include "tests/report_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {
namespace fs = std::filesystem;

const std::string kGolden = LACO_GOLDEN_DIR;

// LACO_UPDATE_GOLDEN=1 rewrites the golden file instead (review the diff).
void expect_golden(const std::string& name, const std::string& actual) {
  const std::string path = kGolden + "/" + name;
  if (std::getenv("LACO_UPDATE_GOLDEN")) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with LACO_UPDATE_GOLDEN=1";
  EXPECT_EQ(test::read_file(path), actual) << "golden file " << path << " differs";
}

const Table& find_table(const std::vector<Table>& tables, const std::string& name) {
  for (const auto& t : tables)
    if (t.name == name) return t;
  throw std::runtime_error("no table " + name);
}

size_t column(const Table& t, const std::string& header) {
  for (size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i].header == header) return i;
  throw std::runtime_error("no column " + header);
}

size_t row(const Table& t, const std::string& method, const std::string& second = "") {
  for (size_t i = 0; i < t.rows.size(); ++i)
    if (t.rows[i][0].label == method && (second.empty() || t.rows[i][1].label == second)) return i;
  throw std::runtime_error("no row " + method + " " + second);
}

TEST(ReportStat, MeanAndSampleStd) {
  const Stat s = Stat::of({90, 92});
  EXPECT_EQ(s.n, 2);
  EXPECT_DOUBLE_EQ(s.mean, 91);
  EXPECT_NEAR(s.std, std::sqrt(2.0), 1e-12);  // sample (n - 1) std
  EXPECT_EQ(Stat::of({5}).std, 0);
  EXPECT_TRUE(Stat::of({}).missing());
  Column c{"x", "%", 1, Better::kHigher};
  EXPECT_EQ(format_cell(Cell::value(s), c), "91.0 ± 1.4");
  EXPECT_EQ(format_cell(Cell::value(Stat::of({5})), c), "5.0");
  EXPECT_EQ(format_cell(Cell::value(Stat{}), c), "-");
  EXPECT_EQ(format_cell(Cell::change(Stat::of({12.34})), c), "+12.3%");
  EXPECT_EQ(format_cell(Cell::change(Stat::of({-0.01})), c), "+0.0%") << "no negative zero";
  EXPECT_EQ(format_cell(Cell::change(Stat{}), c), "-");
  Stat with_ci = Stat::of({12.34});
  with_ci.ci = Interval{-1.04, 20.0, 0.95};
  EXPECT_EQ(format_cell(Cell::change(with_ci), c), "+12.3% [-1.0, +20.0]");
}

TEST(ReportTables, MethodsTableValuesBoldAndDashes) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  EXPECT_EQ(index.accuracy_preset(), "small");
  EXPECT_EQ(index.efficiency_preset(), "cpu-small");
  const Table t = methods_table(index, {});
  // none first and never bold, then the registry order.
  EXPECT_EQ(t.rows[0][0].label, "none");
  EXPECT_EQ(t.rows[1][0].label, "avgpool");
  const size_t text = column(t, "text"), avg = column(t, "average");
  const auto& laco = t.rows[row(t, "laco")];
  // Fixture: laco text at 1/4 is 60 + seed * 4 -> 62.0 +- 2.8.
  EXPECT_EQ(format_cell(laco[text], t.columns[text]), "62.0 ± 2.8");
  EXPECT_TRUE(laco[text].bold);
  for (size_t c = 1; c < t.columns.size(); ++c) EXPECT_FALSE(t.rows[0][c].bold) << "the none ceiling is not ranked";
  // Only laco is best on text; ties are all bold.
  int bold = 0;
  for (const auto& r : t.rows) bold += r[text].bold;
  EXPECT_EQ(bold, 1);
  // The fixture has no tokenpacker accuracy at 1/4: dashes, not zeros.
  const auto& tp = t.rows[row(t, "tokenpacker")];
  EXPECT_EQ(format_cell(tp[avg], t.columns[avg]), "-");
  EXPECT_NE(render_markdown(t).find("| tokenpacker | - | - | - | - | - | - | - |"), std::string::npos)
      << render_markdown(t);
}

// fastv acts inside the LM: its runs are after the encoder, and the tables
// that compare methods at a placement show them there, saying so; the tables
// across placements show its one placement.
TEST(ReportTables, AMethodInsideTheLmAnswersAtEveryPlacementWithItsRunAfterTheEncoder) {
  auto runs = test::report_fixture_runs();
  std::vector<RunRecord> fastv;
  for (const auto& r : runs)
    if (r.spec.method == "laco" && r.spec.layer == "1" && r.spec.ratio == 2) {
      fastv.push_back(r);
      fastv.back().spec.method = "fastv";
    }
  ASSERT_FALSE(fastv.empty());
  runs.insert(runs.end(), fastv.begin(), fastv.end());
  const RunIndex index(runs, {});
  const Table m = methods_table(index, {});  // at 1/4
  const size_t avg = column(m, "average");
  ReportOptions one;
  one.placement = "1";
  const Table at_one = methods_table(index, one);
  EXPECT_EQ(format_cell(m.rows[row(m, "fastv")][avg], m.columns[avg]),
            format_cell(at_one.rows[row(at_one, "laco")][avg], at_one.columns[avg]))
      << "its run after the encoder";
  EXPECT_NE(format_cell(m.rows[row(m, "fastv")][avg], m.columns[avg]), "-");
  EXPECT_NE(render_markdown(m).find("fastv acts inside the LM"), std::string::npos);
  EXPECT_EQ(render_markdown(methods_table(RunIndex(test::report_fixture_runs(), {}), {})).find("inside the LM"),
            std::string::npos)
      << "no note without such a method";
  const Table p = placement_table(index, {});
  EXPECT_NO_THROW(row(p, "fastv", "1"));
  EXPECT_THROW(row(p, "fastv", "1/4"), std::runtime_error);
  const Table e = efficiency_table(index, {});
  EXPECT_NO_THROW(row(e, "fastv", "1 (external)"));
  EXPECT_THROW(row(e, "fastv", "1/4"), std::runtime_error);
}

TEST(ReportTables, EfficiencyTableComparesWithTheSameMethodAfterTheEncoder) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  const Table t = efficiency_table(index, {});
  const auto& r = t.rows[row(t, "laco", "1/4")];
  // Fixture: train step 1000 ms external, 600 ms at 1/4 -> +66.7%; FLOPs 100 vs 55 -> +81.8%.
  EXPECT_EQ(format_cell(r[2], t.columns[2]), "600.0");
  EXPECT_EQ(format_cell(r[3], t.columns[3]), "+66.7%");
  EXPECT_EQ(format_cell(r[4], t.columns[4]), "+81.8%");
  const auto& ext = t.rows[row(t, "laco", "1 (external)")];
  EXPECT_EQ(format_cell(ext[3], t.columns[3]), "-");
  // A placement with accuracy runs only (the main job's 1/12, 1/6, 1/2) has
  // no rows of dashes here, and keeps its rows in the placement table.
  auto some = test::report_fixture_runs();
  some.erase(std::remove_if(some.begin(), some.end(),
                            [](const RunRecord& r) { return r.spec.is_efficiency() && r.spec.layer == "1/12"; }),
             some.end());
  ASSERT_EQ(some.size(), test::report_fixture_runs().size() - 5) << "the five methods' efficiency runs at 1/12";
  const RunIndex partial(some, {});
  const Table without = efficiency_table(partial, {});
  for (const auto& r : without.rows) EXPECT_NE(r[1].label, "1/12");
  EXPECT_EQ(without.rows.size(), t.rows.size() - 5) << "one row fewer per method";
  size_t accuracy_rows = 0;
  for (const auto& r : placement_table(partial, {}).rows) accuracy_rows += r[1].label == "1/12";
  EXPECT_EQ(accuracy_rows, 5u);
}

// The fixture's efficiency runs with a decode stage (16 and 256 tokens, batch
// 4): the time per token depends on the tokens cached, not on where they were
// compressed; the latency carries the placement's prefill gain.
std::vector<RunRecord> with_decode(std::vector<RunRecord> runs) {
  const std::map<std::string, double> time_factor = {{"1/12", 0.4}, {"1/4", 0.6}, {"1/2", 0.8}, {"1", 1.0}};
  for (auto& r : runs) {
    if (!r.spec.is_efficiency()) continue;
    auto& e = std::get<EfficiencySettings>(r.spec.settings);
    e.gen_tokens = {16, 256};
    e.batch = 4;
    const bool none = r.spec.method == "none";
    const double tf = none ? 1.0 : time_factor.at(r.spec.layer);
    const double side = static_cast<double>((12 + r.spec.ratio - 1) / r.spec.ratio);
    auto timed = [&](const std::string& name, double center, double step) {
      r.samples[name] = {center - step, center, center + step};
      r.add(name, center, name.rfind("decode_throughput", 0) == 0 ? "tokens/s" : "ms");
    };
    r.add("visual_tokens", none ? 144.0 : side * side, "tokens");
    r.add("kv_cache_256", 0.01 * ((none ? 144.0 : side * side) + 32 + 255), "MiB");
    r.add("bytes_decode_step_256", none ? 100.0 : 60.0, "MB");
    r.add("max_batch_256", none ? 10.0 : 40.0, "requests");
    timed("decode_tpot_256", none ? 21.0 : 11.0, 1.0);
    timed("decode_tpot_256_batch", none ? 41.0 : 21.0, 1.0);
    timed("decode_latency_16", 100 + 200 * tf, 10.0);
    timed("decode_latency_256", 2600 + 200 * tf, 10.0);
    timed("decode_throughput_256", none ? 300.0 : 400.0, 5.0);
  }
  return runs;
}

TEST(ReportTables, GenerationTableComparesDecodeWithNoneAndLatencyWithAfterTheEncoder) {
  const auto plain = test::report_fixture_runs();
  EXPECT_TRUE(generation_table(RunIndex(plain, {}), {}).rows.empty()) << "no decode runs: no table";
  EXPECT_EQ(build_tables(RunIndex(plain, {}), {}).size(), 5u) << "and none among the tables";
  const auto runs = with_decode(plain);
  const RunIndex index(runs, {});
  EXPECT_EQ(index.gen_tokens(), (std::vector<int64_t>{16, 256}));
  const Table t = generation_table(index, {});
  ASSERT_FALSE(t.rows.empty());
  EXPECT_EQ(t.rows[0][0].label, "none");
  EXPECT_TRUE(t.reference[0]);
  auto cell = [&](size_t r, const std::string& header, size_t nth = 0) {
    for (size_t c = 0; c < t.columns.size(); ++c)
      if (t.columns[c].header == header && nth-- == 0) return format_cell(t.rows[r][c], t.columns[c]);
    throw std::runtime_error("no column " + header);
  };
  const size_t laco = row(t, "laco", "1/4");
  EXPECT_EQ(t.rows[laco][2].label, "2");
  // Three repetitions: [min, max] covers the median with 75% only, and says so.
  EXPECT_EQ(cell(laco, "time per token, b=1"), "11.00 [10.00, 12.00]†");
  // No compression's time / this one's - 1: 21 / 11 - 1 = +90.9%; the byte model 100 / 60 - 1 = +66.7%.
  EXPECT_EQ(cell(laco, "vs none").rfind("+90.9%", 0), 0u) << cell(laco, "vs none");
  EXPECT_EQ(cell(laco, "byte model"), "+66.7%");
  EXPECT_EQ(cell(laco, "vs none", 1).rfind("+95.2%", 0), 0u) << "41 / 21 - 1 at the batch";
  // Latency against the same method after the encoder: 300 / 220 - 1 and 2800 / 2720 - 1.
  EXPECT_EQ(cell(laco, "latency, n=16"), "220 [210, 230]†");
  EXPECT_EQ(cell(laco, "vs external").rfind("+36.4%", 0), 0u) << cell(laco, "vs external");
  EXPECT_EQ(cell(laco, "vs external", 1).rfind("+2.9%", 0), 0u) << cell(laco, "vs external", 1);
  EXPECT_EQ(cell(row(t, "laco", "1 (external)"), "vs external"), "-");
  EXPECT_EQ(cell(laco, "max batch, n=256"), "40");
  EXPECT_EQ(cell(0, "max batch, n=256"), "10");
  EXPECT_EQ(cell(0, "vs none"), "-");
  // Every method, placement and ratio with a decode run: 5 methods x 4 placements at r = 2, 5 x 1 at r = 3 and 4.
  EXPECT_EQ(t.rows.size(), 1u + 5 * 4 + 5 + 5);
  bool ratio4 = false;
  for (const auto& r : t.rows) ratio4 = ratio4 || r[2].label == "4";
  EXPECT_TRUE(ratio4);
  EXPECT_EQ(build_tables(index, {}).back().name, "generation");
  const std::string md = render_markdown(t);
  EXPECT_NE(md.find("greedy decoding of exactly n tokens"), std::string::npos);
  EXPECT_NE(md.find("time per token, b=4"), std::string::npos);
}

TEST(ReportTables, MostSensitiveFamilyIsTheLargestDropFromTheCeiling) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  EXPECT_EQ(most_sensitive_family(index, 2), "text");
  EXPECT_EQ(placement_table(index, {}).columns[4].header, "text accuracy");
}

TEST(ReportTables, GoldenMarkdownAndLatex) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  for (const auto& t : build_tables(index, {})) {
    expect_golden("report_" + t.name + ".md", render_markdown(t));
    expect_golden("report_" + t.name + ".tex", render_latex(t));
  }
}

TEST(ReportTables, LatexEscapesAndUsesBooktabs) {
  EXPECT_EQ(latex_escape("a_b 50% & {x}"), "a\\_b 50\\% \\& \\{x\\}");
  const auto runs = test::report_fixture_runs();
  const std::string tex = render_latex(methods_table(RunIndex(runs, {}), {}));
  for (const char* s : {"\\toprule", "\\midrule", "\\bottomrule", "\\textbf{", "$\\pm$", "pixel\\_shuffle"})
    EXPECT_NE(tex.find(s), std::string::npos) << s;
  EXPECT_EQ(tex.find("±"), std::string::npos) << "raw Unicode breaks pdflatex";
}

TEST(ReportPlots, ParetoFrontKeepsTheNonDominatedPoints) {
  const auto front = pareto_front({{1, 90}, {2, 80}, {2, 85}, {3, 70}, {1.5, 60}, {4, 50}, {0.5, 95}});
  const std::vector<std::pair<double, double>> expected = {{0.5, 95}, {1, 90}, {2, 85}, {3, 70}, {4, 50}};
  EXPECT_EQ(front, expected);
}

TEST(ReportPlots, ChartsHaveAxesUnitsAndLegend) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  const auto charts = report_charts(index, {});
  ASSERT_EQ(charts.size(), 3u);
  const std::string svg = render_svg(charts[0]);
  for (const char* s : {"<svg", "requests/s", "average accuracy (%", "Pareto front", "laco", "tokenpacker"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  EXPECT_NE(render_svg(charts[1]).find(">1/4<"), std::string::npos) << "placements label the x axis";
}

// Issue 13: plots carry the intervals (error bars inside the axes), one
// marker shape per placement with a legend, and tooltips naming the point.
TEST(ReportPlots, ErrorBarsShapesAndTooltips) {
  Chart c;
  c.title = "t";
  c.x_label = "x";
  c.y_label = "y";
  c.shape_names = {"at 1/4", "1 (after)"};
  PlotSeries s{"laco", {{1, 100}, {2, 110}}, false, false};
  s.details = {{std::nullopt, Interval{90, 200, 0.95}, 0, "laco at 1/4, r = 2"},
               {Interval{1.5, 2.5, 0.95}, std::nullopt, 1, "laco at 1, r = 2"}};
  c.series.push_back(s);
  const std::string svg = render_svg(c);
  EXPECT_NE(svg.find("width=\"590\""), std::string::npos);
  EXPECT_NE(svg.find("<title>laco at 1/4, r = 2: (1, 100)</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<rect x="), std::string::npos) << "the second placement's square marker";
  EXPECT_NE(svg.find(">200</text>"), std::string::npos) << "the y axis reaches the interval's top";
  EXPECT_NE(svg.find(">1 (after)</text>"), std::string::npos);
  size_t bars = 0;
  for (size_t at = svg.find("stroke-width=\"1\"/>"); at != std::string::npos; at = svg.find("stroke-width=\"1\"/>", at + 1))
    ++bars;
  EXPECT_EQ(bars, 2u) << "one vertical and one horizontal error bar";
}

// Issue 13: the LaTeX report gets the figures: the same chart model as
// pgfplots code, error bars and marker classes included.
TEST(ReportPlots, PgfplotsCarriesTheSameChart) {
  Chart c;
  c.title = "Accuracy vs throughput";
  c.x_label = "throughput (requests/s)";
  c.y_label = "accuracy (%)";
  c.pareto = true;
  c.shape_names = {"at 1/4", "1 (after)"};
  PlotSeries s{"laco", {{10, 50}, {20, 40}}, false, false};
  s.details = {{Interval{9, 12, 0.95}, Interval{45, 56, 0.95}, 0, "laco at 1/4, r = 2"},
               {std::nullopt, std::nullopt, 1, "laco at 1, r = 2"}};
  c.series.push_back(s);
  const std::string pgf = render_pgfplots(c);
  EXPECT_NE(pgf.find("\\begin{axis}["), std::string::npos) << pgf;
  EXPECT_NE(pgf.find("xlabel={throughput (requests/s)}"), std::string::npos) << pgf;
  EXPECT_NE(pgf.find("(10, 50) += (2, 6) -= (1, 5) [s0]"), std::string::npos) << pgf;
  EXPECT_NE(pgf.find("(20, 40) += (0, 0) -= (0, 0) [s1]"), std::string::npos) << pgf;
  EXPECT_NE(pgf.find("\\addlegendentry{laco}"), std::string::npos) << pgf;
  EXPECT_NE(pgf.find("\\addlegendentry{Pareto front}"), std::string::npos) << pgf;
  const std::string figure = render_pgfplots_figure(c);
  EXPECT_NE(figure.find("\\caption{Accuracy vs throughput. Error bars: 95\\% intervals. Markers: circle at 1/4, square 1 "
                        "(after).}"),
            std::string::npos)
      << figure;
  // A bar of 3 repetitions covers 75%: the caption and the SVG say so, not 95% (issue 41).
  c.series[0].details[1].y_ci = Interval{35, 44, 0.75};
  EXPECT_NE(render_pgfplots_figure(c).find("Error bars: 95\\% intervals, but for timings of too few repetitions, "
                                           "whose bars are the widest they allow and cover with as little as 75\\%."),
            std::string::npos)
      << render_pgfplots_figure(c);
  EXPECT_NE(render_svg(c).find(">error bars: &gt;= 75% intervals</text>"), std::string::npos) << render_svg(c);
  c.series[0].details = {};
  EXPECT_EQ(error_bar_note(c), "") << "no bars, nothing to say";
}

// The LaTeX report compiles with Debian's texlive (scripts/bootstrap.sh
// --with-tex, run by scripts/test.sh), tables and pgfplots figures included.
TEST(Report, LatexReportCompilesWithItsFigures) {
  if (test::run_command("command -v pdflatex").status != 0)
    GTEST_SKIP() << "pdflatex is not installed (scripts/bootstrap.sh --with-tex installs Debian's texlive)";
  ReportRequest r;
  r.out_dir = test::temp_dir("report_latex");
  r.formats = {"latex"};
  write_report(test::report_fixture_runs(), r);
  const std::string tex = test::read_file(r.out_dir + "/report.tex");
  EXPECT_NE(tex.find("\\usepackage{pgfplots}"), std::string::npos);
  EXPECT_NE(tex.find("\\begin{tikzpicture}"), std::string::npos);
  EXPECT_TRUE(fs::exists(r.out_dir + "/plot1.tex"));
  const auto c = test::run_command("cd " + r.out_dir + " && pdflatex -interaction=nonstopmode -halt-on-error report.tex");
  EXPECT_EQ(c.status, 0) << c.output.substr(c.output.size() > 3000 ? c.output.size() - 3000 : 0);
  EXPECT_TRUE(fs::exists(r.out_dir + "/report.pdf"));
}

TEST(Report, RejectsUnknownFormatsAndTables) {
  ReportRequest r;
  r.formats = {"md", "pdf"};
  test::expect_error([&] { check_report_request(r); }, {"--files", "'pdf'", "md, latex, csv, html"});
  r.formats = {"md"};
  r.tables = {"speed"};
  test::expect_error([&] { check_report_request(r); }, {"--table", "'speed'", "methods, placement, ratio, efficiency, training, generation, budget, all"});
}

// The fixture written into a results database the way a sweep stores runs.
std::string fixture_database(const std::string& dir) {
  const std::string path = dir + "/fixture.db";
  ResultStore store(path, true);
  const auto runs = test::report_fixture_runs();
  std::vector<PlannedRun> planned;
  std::vector<std::pair<std::string, RunRecord>> done;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string key = fmt::format("fixture-{:03d}", i);
    planned.push_back({key, runs[i].spec, {"fixture"}});
    done.emplace_back(key, runs[i]);
  }
  store.register_runs("fixture", planned);
  std::vector<std::string> keys;
  for (const auto& p : planned) keys.push_back(p.key);
  store.claim(keys, "fixture");
  store.record_done(done);
  return path;
}

TEST(Report, TablesFromAFixtureDatabaseMatchTheGoldenFiles) {
  const std::string db = fixture_database(test::temp_dir("report_db"));
  const auto runs = load_done_runs(db);
  ASSERT_EQ(runs.size(), test::report_fixture_runs().size());
  const RunIndex index(runs, {});
  for (const auto& t : build_tables(index, {})) {
    EXPECT_EQ(render_markdown(t), test::read_file(kGolden + "/report_" + t.name + ".md")) << t.name;
    EXPECT_EQ(render_latex(t), test::read_file(kGolden + "/report_" + t.name + ".tex")) << t.name;
  }
}

TEST(Report, NotesSayWhenEfficiencyRunsComeFromSeparateGroups) {
  const std::string db = fixture_database(test::temp_dir("report_groups"));
  const std::string one = "the 31 efficiency runs measured in one interleaved group per seed";
  auto notes = [&] {
    std::string all;
    for (const auto& t : build_tables(RunIndex(load_done_runs(db), {}), {}))
      for (const auto& n : t.notes) all += n + "\n";
    return all;
  };
  EXPECT_NE(notes().find(one), std::string::npos) << notes();
  {
    // As runs stored before groups spanned methods: LaCo measured apart from the others.
    sql::Connection c = open_results_db(db, true);
    c.exec("UPDATE runs SET group_key = 'laco-alone' WHERE eval = 'efficiency' AND method = 'laco'");
  }
  const std::string text = notes();
  EXPECT_EQ(text.find(one), std::string::npos) << text;
  EXPECT_NE(text.find("the 31 efficiency runs measured in up to 2 separate groups per seed (timings of different "
                      "groups were not measured together"),
            std::string::npos)
      << text;
}

TEST(Report, CliWritesEveryFormatAndPrintsMarkdown) {
  const std::string dir = test::temp_dir("report_cli");
  const std::string db = fixture_database(dir);
  auto r = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("### Compression methods at 1/4 depth"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dir + "/out/report.html"), std::string::npos) << r.output;
  for (const char* f : {"report.md", "report.tex", "report.csv", "report.html", "methods.md", "efficiency.tex",
                        "plot1.svg"})
    EXPECT_TRUE(fs::exists(dir + "/out/" + f)) << f;
  EXPECT_EQ(test::read_file(dir + "/out/methods.md"), test::read_file(kGolden + "/report_methods.md"));

  r = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out2 --files md,docx");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--files: unknown file format 'docx' (allowed: md, latex, csv, html)"), std::string::npos)
      << r.output;
  r = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out2 -o xml");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--format: unknown format 'xml' (allowed: table, md, csv, json)"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir + "/out2")) << "nothing is written before the request is checked";

  r = test::run_command(std::string(LACO_BIN) + " report --db " + dir + "/missing.db --out " + dir + "/out3");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("missing.db: no such results database"), std::string::npos) << r.output;
}

TEST(Report, RegeneratingGivesIdenticalFiles) {
  const auto runs = test::report_fixture_runs();
  ReportRequest r;
  r.out_dir = test::temp_dir("report_a");
  const auto a = write_report(runs, r);
  r.out_dir = test::temp_dir("report_b");
  auto shuffled = runs;
  std::reverse(shuffled.begin(), shuffled.end());  // storage order must not matter
  const auto b = write_report(shuffled, r);
  ASSERT_EQ(a.written.size(), b.written.size());
  ASSERT_GE(a.written.size(), 13u);
  for (size_t i = 0; i < a.written.size(); ++i) {
    EXPECT_EQ(fs::path(a.written[i]).filename(), fs::path(b.written[i]).filename());
    EXPECT_EQ(test::read_file(a.written[i]), test::read_file(b.written[i])) << a.written[i];
  }
  for (const auto& entry : fs::directory_iterator(r.out_dir))
    EXPECT_NE(entry.path().extension(), ".tmp") << "no temporary file left behind";
}

// Issue 13: one placement, one meaning. `--placement 0.25` printed "block k =
// 0" and dashes although 1/4 runs existed; `--where layer=0.25` was empty.
TEST(Report, PlacementSpellingsSelectTheSameRuns) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  ReportOptions quarter, decimal;
  decimal.placement = "0.25";
  EXPECT_EQ(render_markdown(methods_table(index, decimal)), render_markdown(methods_table(index, quarter)));
  EXPECT_EQ(render_markdown(ratio_table(index, decimal)), render_markdown(ratio_table(index, quarter)));
  EXPECT_NE(render_markdown(methods_table(index, quarter)).find("block k = 2"), std::string::npos);

  const std::string db = fixture_database(test::temp_dir("report_placement"));
  auto keys = [&](const std::vector<std::string>& where) {
    QueryOptions q;
    q.db = db;
    q.where = where;
    std::vector<std::string> out;
    for (const auto& row : run_query(q).rows) out.push_back(sql::to_text(row[0]));
    return out;
  };
  const auto by_fraction = keys({"layer=1/4"});
  EXPECT_FALSE(by_fraction.empty());
  EXPECT_EQ(keys({"layer=0.25"}), by_fraction);
  // block:2 is 1/4 of the 8-block accuracy encoder (and 1/6 of the 12-block efficiency one).
  EXPECT_EQ(keys({"layer=block:2", "eval=accuracy"}), keys({"layer=1/4", "eval=accuracy"}));
  EXPECT_EQ(load_done_runs(db, {"layer=0.25"}).size(), by_fraction.size());
}

// Issue 13: a smoke database merged with a real sweep was averaged as if the
// two configurations were seeds ("69.3 ± 44.7, 3 seeds"). A cell whose runs
// differ in more than the seed is refused, naming the fields; --where picks one.
TEST(Report, DifferentConfigurationsAreNeverPooled) {
  auto runs = test::report_fixture_runs();
  std::vector<RunRecord> other;
  for (const auto& r : runs) {
    if (r.spec.method != "laco" || r.spec.layer != std::string("1/4") || r.spec.ratio != 2) continue;
    RunRecord longer = r;
    longer.spec.seed += 10;
    if (longer.spec.is_accuracy()) {
      std::get<AccuracySettings>(longer.spec.settings).steps0 = 200;
    } else {
      std::get<EfficiencySettings>(longer.spec.settings).reps = 5;
    }
    other.push_back(longer);
  }
  ASSERT_EQ(other.size(), 3u) << "laco at 1/4, r = 2: two accuracy seeds, one efficiency run";
  auto mixed = runs;
  mixed.insert(mixed.end(), other.begin(), other.end());
  const RunIndex index(mixed, {});
  test::expect_error([&] { methods_table(index, {}); },
                     {"the accuracy runs of laco at 1/4 (block 2), r = 2 differ in more than the seed",
                      "steps0 (0, 200)", "they are not pooled", "--where steps0=VALUE"});
  test::expect_error([&] { efficiency_table(index, {}); },
                     {"the efficiency runs of laco at 1/4 (block 3), r = 2", "reps (0, 5)"});

  // In a database: the second sweep's runs are left out with --where sweep=.
  const std::string dir = test::temp_dir("report_pooled");
  const std::string db = fixture_database(dir);
  {
    ResultStore store(db, true);
    std::vector<PlannedRun> planned;
    std::vector<std::pair<std::string, RunRecord>> done;
    std::vector<std::string> keys;
    for (size_t i = 0; i < other.size(); ++i) {
      keys.push_back(fmt::format("other-{:03d}", i));
      planned.push_back({keys.back(), other[i].spec, {"g"}});
      done.emplace_back(keys.back(), other[i]);
    }
    store.register_runs("other", planned);
    store.claim(keys, "");
    store.record_done(done);
  }
  auto r = test::run_command(std::string(LACO_BIN) + " report -q --files md --db " + db + " --out " + dir + "/out");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("differ in more than the seed"), std::string::npos) << r.output;
  r = test::run_command(std::string(LACO_BIN) + " report -q --files md --db " + db + " --out " + dir +
                        "/out --where sweep=fixture");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::read_file(dir + "/out/methods.md"), test::read_file(kGolden + "/report_methods.md"));
}

// Issue 13: bold on noise. With the questions stored, a difference that the
// paired test cannot resolve is bold on both sides, a real one is not, and
// every accuracy cell carries its interval.
TEST(Report, BoldOnlyWhereTheDifferenceIsSignificant) {
  const std::vector<std::string> families = {"color", "shape", "count", "spatial", "text"};
  // correct(m, f, q): method m's answer to question q (of 200) of family f.
  auto run = [&](const std::string& method, const std::function<bool(size_t, int)>& correct) {
    RunRecord r;
    r.spec.preset = "small";
    r.spec.method = method;
    r.spec.layer = "1/4";
    r.spec.block_k = 2;
    r.spec.depth = 8;
    r.spec.settings = AccuracySettings{};
    double sum = 0;
    for (size_t f = 0; f < families.size(); ++f) {
      int right = 0;
      for (int q = 0; q < 200; ++q) {
        const bool ok = correct(f, q);
        right += ok;
        r.predictions.push_back({fmt::format("{}-{}", families[f], q), families[f], "a", ok ? "a" : "b", ok});
      }
      r.add("acc_" + families[f], right / 2.0, "%");
      sum += right / 2.0;
    }
    r.add("acc_mean", sum / 5, "%");
    return r;
  };
  // a: 120 of 200 right per family. b: a, with 2 of a's right answers wrong and
  // 3 of its wrong ones right (+0.5 points: 25 discordant pairs, not resolved).
  // c: 60 of 200.
  const std::vector<RunRecord> runs = {
      run("avgpool", [](size_t, int q) { return q < 120; }),
      run("laco", [](size_t, int q) { return (q < 120 && q >= 2) || (q >= 120 && q < 123); }),
      run("ldpv2", [](size_t, int q) { return q < 60; })};
  const RunIndex index(runs, {});
  const Table t = methods_table(index, {});
  const size_t avg = column(t, "average");
  EXPECT_EQ(format_cell(t.rows[row(t, "laco")][avg], t.columns[avg]).substr(0, 5), "60.5 ");
  EXPECT_NE(format_cell(t.rows[row(t, "laco")][avg], t.columns[avg]).find(" ["), std::string::npos);
  EXPECT_TRUE(t.rows[row(t, "laco")][avg].bold) << "the best";
  EXPECT_TRUE(t.rows[row(t, "avgpool")][avg].bold) << "0.5 points below on the same questions: within the noise";
  EXPECT_FALSE(t.rows[row(t, "ldpv2")][avg].bold) << "30 points below: beyond it";
  // The interval is the bootstrap's, computed here independently of the table.
  // (The same data in the same order: families and question ids sorted.)
  std::map<std::string, std::map<std::string, bool>> by_family;
  for (const auto& f : families)
    for (int q = 0; q < 200; ++q) by_family[f][fmt::format("{}-{}", f, q)] = q < 60;
  std::vector<SeedAnswers> seeds(1);
  for (const auto& [f, questions] : by_family) {
    seeds[0].emplace_back();
    for (const auto& [id, ok] : questions) seeds[0].back().push_back(ok);
  }
  const Interval ci = accuracy_interval(seeds, AccuracyKind::kMeanOfStrata);
  EXPECT_EQ(format_cell(t.rows[row(t, "ldpv2")][avg], t.columns[avg]),
            fmt::format("30.0 [{}, {}]", format_fixed(ci.lo, 1), format_fixed(ci.hi, 1)));
  bool said = false;
  for (const auto& n : t.notes) said |= n.find("not significantly different from it at the 5% level") != std::string::npos;
  EXPECT_TRUE(said);
}

// The main job's 3 repetitions: 3 against 3 can never reach p < 0.05 with
// the Mann-Whitney test (2 / C(6, 3) = 0.10), so every timing was bold and the
// table said nothing about it. Now a note says so; 5 repetitions can rank.
TEST(Report, TimingsTooFewToRankSaySo) {
  auto run = [](const std::string& method, const std::vector<double>& rates) {
    RunRecord r;
    r.spec.preset = "cpu-small";
    r.spec.method = method;
    r.spec.layer = "1/4";
    r.spec.block_k = 7;
    r.spec.depth = 26;
    r.spec.settings = EfficiencySettings{};
    r.samples["throughput"] = rates;
    r.add("throughput", median(rates), "requests/s");
    return r;
  };
  auto bold_and_notes = [&](size_t reps) {
    std::vector<double> fast, slow;
    for (size_t i = 0; i < reps; ++i) fast.push_back(4.0 + 0.01 * i), slow.push_back(2.0 + 0.01 * i);
    const Table t = methods_table(RunIndex({run("laco", fast), run("avgpool", slow)}, {}), {});
    const size_t c = column(t, "throughput");
    std::string notes;
    for (const auto& n : t.notes) notes += n + "\n";
    return std::make_tuple(t.rows[row(t, "laco")][c].bold, t.rows[row(t, "avgpool")][c].bold, notes);
  };
  {
    const auto [laco, avgpool, notes] = bold_and_notes(3);
    EXPECT_TRUE(laco);
    EXPECT_TRUE(avgpool) << "twice as slow in every repetition, yet not significant with 3 against 3";
    EXPECT_NE(notes.find("With 3 repetitions a timing difference cannot reach the 5% level (the smallest two-sided "
                         "Mann-Whitney p is 0.10"),
              std::string::npos)
        << notes;
  }
  {
    const auto [laco, avgpool, notes] = bold_and_notes(5);  // smallest p = 2 / 252
    EXPECT_TRUE(laco);
    EXPECT_FALSE(avgpool);
    EXPECT_EQ(notes.find("cannot reach the 5% level"), std::string::npos) << notes;
  }
  // Measured in the same rounds (issue 41): the signed-rank test on the pairs, which needs 6.
  auto paired = [&](size_t reps) {
    std::vector<double> fast, slow;
    for (size_t i = 0; i < reps; ++i) fast.push_back(4.0 + 0.01 * i), slow.push_back(2.0 + 0.013 * i);
    auto a = run("laco", fast), b = run("avgpool", slow);
    a.facts["measurement"] = b.facts["measurement"] = "m";
    const Table t = methods_table(RunIndex({a, b}, {}), {});
    const size_t c = column(t, "throughput");
    std::string notes;
    for (const auto& n : t.notes) notes += n + "\n";
    return std::make_pair(t.rows[row(t, "avgpool")][c].bold, notes);
  };
  {
    const auto [avgpool, notes] = paired(5);
    EXPECT_TRUE(avgpool) << "5 pairs: 2 / 32 at best";
    EXPECT_NE(notes.find("With 5 paired rounds a timing difference cannot reach the 5% level (the smallest two-sided "
                         "signed-rank p is 0.06)"),
              std::string::npos)
        << notes;
  }
  {
    const auto [avgpool, notes] = paired(6);
    EXPECT_FALSE(avgpool) << "6 pairs all one way: p = 2 / 64";
    EXPECT_EQ(notes.find("cannot reach the 5% level"), std::string::npos) << notes;
  }
}

// Issue 41: two runs measured in the same rounds (one measurement id) give a
// speed-up paired on those rounds: the Hodges-Lehmann ratio of the
// per-round ratios with its exact signed-rank interval, which sees through a
// drifting machine; runs measured apart get the two-sample estimate. An
// interval short of 95% carries a dagger and a note with its coverage, and
// the notes say how many rounds stand behind the ratios.
TEST(Report, SpeedUpsArePairedOnTheRoundsTheRunsShared) {
  auto run = [](const std::string& layer, const std::vector<double>& times, const std::string& measurement) {
    RunRecord r;
    r.spec.preset = "cpu-small";
    r.spec.method = "laco";
    r.spec.layer = layer;
    r.spec.block_k = layer == "1" ? 26 : 7;
    r.spec.depth = 26;
    r.spec.ratio = 2;
    r.spec.settings = EfficiencySettings{};
    r.samples["train_step_time"] = times;
    r.add("train_step_time", median(times), "ms");
    if (!measurement.empty()) r.facts["measurement"] = measurement;
    return r;
  };
  // The machine slows by 15% per round; inside the encoder is 1.25x faster in every round.
  std::vector<double> ext, in;
  for (int k = 0; k < 8; ++k) {
    const double drift = std::exp(0.15 * k) * (1 + 0.002 * ((k * 5) % 7));
    ext.push_back(1000 * drift);
    in.push_back(800 * std::exp(0.15 * k) * (1 + 0.002 * ((k * 3) % 5)));
  }
  auto speedup_cell = [&](const std::string& m_in, const std::string& m_ext, size_t reps, std::string* notes) {
    const std::vector<double> e(ext.begin(), ext.begin() + static_cast<long>(reps)),
        i(in.begin(), in.begin() + static_cast<long>(reps));
    const Table t = efficiency_table(RunIndex({run("1/4", i, m_in), run("1", e, m_ext)}, {}), {});
    const size_t c = column(t, "speed-up");
    *notes = "";
    for (const auto& n : t.notes) *notes += n + "\n";
    return std::make_pair(t.rows[row(t, "laco", "1/4")][c], t.columns[c]);
  };
  std::string notes;
  {
    const auto [cell, col] = speedup_cell("m1", "m1", 8, &notes);
    const RatioEstimate want = paired_ratio(ext, in);
    EXPECT_EQ(cell.stat.rounds, 8);
    EXPECT_NEAR(cell.stat.mean, (want.ratio - 1) * 100, 1e-9);
    ASSERT_TRUE(cell.stat.p.has_value());
    EXPECT_NEAR(*cell.stat.p, 2.0 / 256, 1e-12) << "faster in all 8 rounds: the signed-rank test's smallest p";
    ASSERT_TRUE(cell.stat.ci.has_value());
    EXPECT_GE(cell.stat.ci->coverage, 0.95);
    EXPECT_GT(cell.stat.ci->lo, 20) << "the drift cancels: the interval is tight around +25%";
    EXPECT_LT(cell.stat.ci->hi, 30);
    EXPECT_EQ(format_cell(cell, col).find("†"), std::string::npos) << format_cell(cell, col);
    EXPECT_NE(notes.find("Rounds behind the ratios of timings (each round measures every configuration of the group "
                         "once; the ratio within a round cancels the machine's drift): 8 rounds for laco 1/4"),
              std::string::npos)
        << notes;
  }
  {
    // Measured apart (two measurements): unpaired; the drift is noise to it.
    const auto [cell, col] = speedup_cell("m1", "m2", 8, &notes);
    const RatioEstimate want = unpaired_ratio(ext, in);
    EXPECT_EQ(cell.stat.rounds, 0);
    EXPECT_NEAR(cell.stat.mean, (want.ratio - 1) * 100, 1e-9);
    ASSERT_TRUE(cell.stat.ci.has_value());
    EXPECT_LT(cell.stat.ci->lo, 0) << "its interval cannot exclude no speed-up";
    EXPECT_NE(notes.find("1 ratio of runs measured apart (not paired)"), std::string::npos) << notes;
  }
  {
    // Three paired rounds: the widest interval covers with 75%, marked and explained.
    const auto [cell, col] = speedup_cell("m1", "m1", 3, &notes);
    EXPECT_EQ(cell.stat.rounds, 3);
    ASSERT_TRUE(cell.stat.ci.has_value());
    EXPECT_NEAR(cell.stat.ci->coverage, 0.75, 1e-12);
    const std::string text = format_cell(cell, col);
    EXPECT_EQ(text.substr(text.size() - std::string("†").size()), "†") << text;
    EXPECT_NE(notes.find("† an interval short of 95%: too few repetitions for one, so it is the widest they allow, "
                         "covering with 75% probability"),
              std::string::npos)
        << notes;
    EXPECT_EQ(notes.find("[95% order-statistic interval]"), std::string::npos) << "no header promises 95% over it";
  }
}

// Issue 13: report.csv repeated column names ("speed-up") and joined method,
// placement and ratio into one label, so pandas' pivot failed. Each value is
// now one line keyed by separate columns, and the key is unique.
TEST(Report, CsvIsTidyAndPivots) {
  const auto runs = test::report_fixture_runs();
  const RunIndex index(runs, {});
  std::string csv = csv_header();
  for (const auto& t : build_tables(index, {})) csv += render_csv_rows(t);
  auto split = [](const std::string& line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') quoted = !quoted;
      else if (ch == ',' && !quoted) out.emplace_back();
      else out.back() += ch;
    }
    return out;
  };
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  const auto header = split(line);
  EXPECT_EQ(header, (std::vector<std::string>{"table", "method", "options", "placement", "block", "ratio", "metric",
                                              "unit", "mean", "ci_low", "ci_high", "ci_coverage", "std", "n",
                                              "rounds", "p", "bold"}));
  EXPECT_EQ(std::set<std::string>(header.begin(), header.end()).size(), header.size()) << "unique column names";
  // pandas: df.pivot(index=["table", "method", "options", "placement", "ratio"], columns="metric", values="mean")
  std::set<std::string> keys;
  size_t lines = 0;
  while (std::getline(in, line)) {
    const auto cells = split(line);
    ASSERT_EQ(cells.size(), header.size()) << line;
    const std::string key = cells[0] + "|" + cells[1] + "|" + cells[2] + "|" + cells[3] + "|" + cells[5] + "|" + cells[6];
    EXPECT_TRUE(keys.insert(key).second) << "duplicate entry for the pivot: " << line;
    EXPECT_FALSE(cells[1].empty()) << line;
    ++lines;
  }
  EXPECT_GT(lines, 100u);
  // The efficiency table's two speed-ups have names of their own.
  EXPECT_NE(csv.find(",train_step_speedup,%,"), std::string::npos);
  EXPECT_NE(csv.find(",prefill_speedup,%,"), std::string::npos);
  EXPECT_NE(csv.find("efficiency,laco,,1/4,3,2,train_step_time,ms,600,"), std::string::npos) << csv.substr(0, 2000);
}

// Issue 12, defect 5: a report interrupted by a full disk left 13 new files
// beside report.html and plot1.svg of the previous report, partial .tmp files,
// and no "no space left". Needs a small tmpfs (root); skips otherwise.
TEST(Report, AFullDiskKeepsThePreviousReportWholeAndSaysWhy) {
  const std::string dir = test::temp_dir("report_full"), disk_dir = dir + "/disk";
  fs::create_directories(disk_dir);
  const auto disk = test::Mount::tmpfs(disk_dir, 2048);
  if (!disk.ok) GTEST_SKIP() << "no tmpfs mount on this machine (needs root)";
  const auto runs = test::report_fixture_runs();
  ReportRequest r;
  r.out_dir = disk_dir + "/out";
  const auto first = write_report(runs, r);
  std::map<std::string, std::string> before;
  for (const auto& e : fs::directory_iterator(r.out_dir)) before[e.path().filename()] = test::read_file(e.path());
  ASSERT_GE(before.size(), 13u);

  const std::vector<RunRecord> fewer(runs.begin(), runs.begin() + runs.size() / 2);  // another database
  test::fill_disk(disk_dir, 4096);
  test::expect_error([&] { write_report(fewer, r); },
                     {"cannot write: No space left on device (errno 28)", "nothing in " + r.out_dir + " was replaced"});
  std::map<std::string, std::string> after;
  for (const auto& e : fs::directory_iterator(r.out_dir)) after[e.path().filename()] = test::read_file(e.path());
  EXPECT_EQ(after, before) << "the previous report is whole; no temporary or staging folder is left";

  fs::remove(disk_dir + "/filler");
  const auto second = write_report(fewer, r);
  std::set<std::string> now, expected = {".laco-files"};
  for (const auto& e : fs::directory_iterator(r.out_dir)) now.insert(e.path().filename());
  for (const auto& f : second.written) expected.insert(fs::path(f).filename());
  EXPECT_EQ(now, expected) << "only the new report's files: none of the previous one is left beside them";
}

// Budget sensitivity: a sweep grid's `budgets` train stages 1 and 2 k times
// longer. The runs store only their steps; the report reads the budget back
// against the steps most runs have.
void set_steps(RunRecord& r, int64_t steps1, int64_t steps2) {
  auto& a = std::get<AccuracySettings>(r.spec.settings);
  a.steps1 = steps1;
  a.steps2 = steps2;
}

TEST(ReportBudget, TheReferenceIsTheStepsMostRunsHaveAndOthersAreItsMultiples) {
  auto run = [](int64_t s1, int64_t s2, const std::string& preset = "small") {
    RunRecord r;
    r.spec.preset = preset;
    r.spec.method = "laco";
    r.spec.settings = AccuracySettings{};
    set_steps(r, s1, s2);
    return r;
  };
  std::vector<RunRecord> runs = {run(50, 100), run(50, 100), run(200, 400), run(800, 1600), run(60, 100),
                                 run(100, 400), run(5, 5, "tiny"), run(5, 5, "tiny"), run(5, 5, "tiny")};
  const TrainingBudgets b = training_budgets(runs, "small");
  EXPECT_EQ(b.steps1, 50);
  EXPECT_EQ(b.steps2, 100);
  EXPECT_EQ(b.present, (std::vector<int64_t>{1, 4, 16}));
  EXPECT_EQ(b.of(runs[0].spec), 1);
  EXPECT_EQ(b.of(runs[2].spec), 4);
  EXPECT_EQ(b.of(runs[3].spec), 16);
  EXPECT_EQ(b.of(runs[4].spec), 0) << "not a multiple";
  EXPECT_EQ(b.of(runs[5].spec), 0) << "stage 1 x2, stage 2 x4: not one budget";
  EXPECT_EQ(b.of(runs[6].spec), 0) << "another preset";
  EXPECT_EQ(b.steps(4), "200 + 400");
  // A tie (one run each): the fewer steps are budget 1.
  const TrainingBudgets tie = training_budgets({run(200, 400), run(50, 100)}, "small");
  EXPECT_EQ(tie.steps1, 50);
  EXPECT_EQ(tie.present, (std::vector<int64_t>{1, 4}));
  EXPECT_TRUE(training_budgets({}, "small").present.empty());
}

// One seed of `method` at 1/4, r = 2 with `steps1` + 2 x steps1 steps, 200
// questions of one family answered as `correct(q)` says.
RunRecord budget_run(const std::string& method, int64_t steps1, const std::function<bool(int)>& correct) {
  RunRecord r;
  r.spec.preset = "small";
  r.spec.method = method;
  r.spec.layer = method == "none" ? "1" : "1/4";
  r.spec.block_k = method == "none" ? 8 : 2;
  r.spec.depth = 8;
  r.spec.settings = AccuracySettings{};
  set_steps(r, steps1, 2 * steps1);
  r.provenance.git_commit = "abc1234";
  int right = 0;
  for (int q = 0; q < 200; ++q) {
    right += correct(q);
    r.predictions.push_back({fmt::format("color-{}", q), "color", "a", correct(q) ? "a" : "b", correct(q)});
  }
  r.add("acc_color", right / 2.0, "%");
  r.add("acc_mean", right / 2.0, "%");
  return r;
}

TEST(ReportBudget, RanksMethodsPerBudgetAndSharesRanksWithinTheNoise) {
  auto first = [](int n) { return [n](int q) { return q < n; }; };
  // Like `first(n)` but 2 of its right answers wrong and 3 wrong ones right: +0.5 points, 5 discordant pairs.
  auto near = [](int n) { return [n](int q) { return (q < n && q >= 2) || (q >= n && q < n + 3); }; };
  const std::vector<RunRecord> runs = {
      // x1 (50 + 100 steps, the most runs): avgpool and laco within the noise, ldpv2 far below.
      budget_run("none", 50, first(190)), budget_run("avgpool", 50, first(120)), budget_run("laco", 50, near(120)),
      budget_run("ldpv2", 50, first(60)), budget_run("pixel_shuffle", 50, first(100)),
      // x4: laco pulls ahead; avgpool and ldpv2 tie within the noise.
      budget_run("none", 200, first(192)), budget_run("avgpool", 200, first(120)), budget_run("laco", 200, first(160)),
      budget_run("ldpv2", 200, near(120)),
      // x16: no ldpv2 run; avgpool beats laco.
      budget_run("avgpool", 800, first(170)), budget_run("laco", 800, first(100))};
  const RunIndex index(runs, {});
  EXPECT_EQ(index.budgets().present, (std::vector<int64_t>{1, 4, 16}));
  const auto tables = build_tables(index, {});
  ASSERT_EQ(tables.size(), 5u);
  const Table& t = find_table(tables, "budget");
  EXPECT_EQ(t.title, "Ranking vs training budget at 1/4 depth, r = 2");
  const size_t x1 = column(t, "x1 (50 + 100 steps)"), x4 = column(t, "x4 (200 + 400 steps)"),
               x16 = column(t, "x16 (800 + 1600 steps)");
  const size_t r1 = column(t, "x1 rank"), r4 = column(t, "x4 rank"), r16 = column(t, "x16 rank");
  auto cell = [&](const std::string& m, size_t c) { return format_cell(t.rows[row(t, m)][c], t.columns[c]); };
  EXPECT_EQ(cell("laco", x4).substr(0, 5), "80.0 ") << "the average with its interval";
  EXPECT_NE(cell("laco", x4).find(" ["), std::string::npos);
  // Ranks: 1 + the methods significantly better.
  EXPECT_EQ(cell("avgpool", r1), "1");
  EXPECT_EQ(cell("laco", r1), "1") << "0.5 points above on the same questions: a shared rank";
  EXPECT_EQ(cell("pixel_shuffle", r1), "3");
  EXPECT_EQ(cell("ldpv2", r1), "4");
  EXPECT_EQ(cell("laco", r4), "1");
  EXPECT_EQ(cell("avgpool", r4), "2");
  EXPECT_EQ(cell("ldpv2", r4), "2") << "within the noise of avgpool";
  EXPECT_EQ(cell("avgpool", r16), "1");
  EXPECT_EQ(cell("laco", r16), "2");
  EXPECT_EQ(cell("ldpv2", x16), "-");
  EXPECT_EQ(cell("ldpv2", r16), "-") << "no run, no rank";
  EXPECT_EQ(cell("pixel_shuffle", x4), "-");
  EXPECT_EQ(cell("none", r1), "-") << "the ceiling is not ranked";
  // Bold follows the same test.
  EXPECT_TRUE(t.rows[row(t, "laco")][x1].bold);
  EXPECT_TRUE(t.rows[row(t, "avgpool")][x1].bold);
  EXPECT_FALSE(t.rows[row(t, "ldpv2")][x1].bold);
  EXPECT_FALSE(t.rows[row(t, "none")][x1].bold);
  EXPECT_TRUE(t.rows[row(t, "laco")][x4].bold);
  EXPECT_FALSE(t.rows[row(t, "avgpool")][x4].bold);
  std::string notes;
  for (const auto& n : t.notes) notes += n + "\n";
  for (const char* s : {"x1: 5 runs, seeds per value 1, test questions per family 200",
                        "x4: 4 runs", "x16: 2 runs", "x1 (50 + 100 steps) is what most accuracy runs were trained with",
                        "Rank: 1 + the number of methods significantly better", "git commit(s): abc1234"})
    EXPECT_NE(notes.find(s), std::string::npos) << s << "\n" << notes;
  // The methods table holds the x1 runs alone.
  const Table& m = find_table(tables, "methods");
  const size_t avg = column(m, "average");
  EXPECT_EQ(format_cell(m.rows[row(m, "laco")][avg], m.columns[avg]).substr(0, 5), "60.5 ");
  expect_golden("report_budget.md", render_markdown(t));
  expect_golden("report_budget.tex", render_latex(t));
}

TEST(ReportBudget, OtherTablesAreUnchangedWhenBudgetRunsArePresent) {
  auto runs = test::report_fixture_runs();
  for (auto& r : runs)
    if (r.spec.is_accuracy()) set_steps(r, 50, 100);
  // Without budget runs: the four tables and the training table (the fixture has frozen stages), no budget table.
  const auto plain = build_tables(RunIndex(runs, {}), {});
  ASSERT_EQ(plain.size(), 5u);
  EXPECT_EQ(plain.back().name, "training");
  for (const auto& t : plain) EXPECT_EQ(render_markdown(t), test::read_file(kGolden + "/report_" + t.name + ".md"));
  // Every accuracy run at 1/4 again at x4 and x16, other values, another commit.
  auto with = runs;
  for (const auto& r : runs) {
    if (!r.spec.is_accuracy() || r.spec.layer != std::string("1/4") || r.spec.ratio != 2) continue;
    for (int64_t k : {4, 16}) {
      RunRecord longer = r;
      set_steps(longer, 50 * k, 100 * k);
      longer.provenance.git_commit = "fff0000";
      for (auto& metric : longer.metrics) metric.value += k;
      with.push_back(longer);
    }
  }
  ASSERT_GT(with.size(), runs.size());
  const RunIndex index(with, {});
  const auto tables = build_tables(index, {});
  ASSERT_EQ(tables.size(), 6u);
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(tables[i].name, plain[i].name);
    EXPECT_EQ(render_markdown(tables[i]), render_markdown(plain[i])) << tables[i].name;
    EXPECT_EQ(render_latex(tables[i]), test::read_file(kGolden + "/report_" + tables[i].name + ".tex"));
  }
  const auto charts = report_charts(index, {}), plain_charts = report_charts(RunIndex(runs, {}), {});
  ASSERT_EQ(charts.size(), plain_charts.size());
  for (size_t i = 0; i < charts.size(); ++i) EXPECT_EQ(render_svg(charts[i]), render_svg(plain_charts[i]));
  // The budget table: the fixture's laco average (82.8 over seeds 0 and 1) and + k at x k.
  const Table& b = find_table(tables, "budget");
  const size_t x4 = column(b, "x4 (200 + 400 steps)");
  EXPECT_EQ(format_cell(b.rows[row(b, "laco")][x4], b.columns[x4]), "86.8 ± 1.7");
  const std::string md = render_markdown(b);
  EXPECT_NE(md.find("| tokenpacker | - | - | - | - | - | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("Ranks without raw data"), std::string::npos) << md;

  // Every format gets it.
  ReportRequest request;
  request.out_dir = test::temp_dir("report_budget");
  const auto files = write_report(with, request);
  for (const char* f : {"budget.md", "budget.tex"}) EXPECT_TRUE(fs::exists(request.out_dir + "/" + f)) << f;
  EXPECT_NE(test::read_file(request.out_dir + "/report.csv").find("budget,laco,,1/4,2,2,rank_x4,,1,"),
            std::string::npos);
  EXPECT_NE(test::read_file(request.out_dir + "/report.html").find("<h2 id=\"budget\">Ranking vs training budget"),
            std::string::npos);
  EXPECT_NE(test::read_file(request.out_dir + "/report.tex").find("\\label{tab:budget}"), std::string::npos);

  // Steps that are no budget of the reference are refused as before, not hidden.
  auto odd = runs;
  const auto laco = std::find_if(runs.begin(), runs.end(), [](const RunRecord& r) {
    return r.spec.is_accuracy() && r.spec.method == "laco" && r.spec.layer == "1/4" && r.spec.ratio == 2;
  });
  ASSERT_NE(laco, runs.end());
  RunRecord other = *laco;
  set_steps(other, 60, 100);
  other.spec.seed = 7;
  odd.push_back(other);
  test::expect_error([&] { methods_table(RunIndex(odd, {}), {}); },
                     {"differ in more than the seed", "steps1 (50, 60)"});
}

TEST(Report, HtmlOpensInHeadlessChromium) {
  std::string chromium;
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (fs::exists(c)) chromium = c;
  if (chromium.empty())
    GTEST_SKIP() << "Chromium is not installed (scripts/bootstrap.sh --with-browser installs Debian's chromium)";
  const auto runs = test::report_fixture_runs();
  ReportRequest r;
  r.out_dir = test::temp_dir("report_html");
  r.formats = {"html"};
  const auto files = write_report(runs, r);
  const std::string shot = r.out_dir + "/screenshot.png";
  // --dump-dom proves the page loads and parses; the screenshot that it renders.
  const std::string flags = "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run "
                            "--user-data-dir=" + r.out_dir + "/profile ";
  auto dom = test::run_command(chromium + " " + flags + "--dump-dom file://" + files.html_path + " 2>/dev/null");
  ASSERT_EQ(dom.status, 0) << dom.output;
  EXPECT_NE(dom.output.find("Compression methods at 1/4 depth"), std::string::npos) << dom.output.substr(0, 2000);
  EXPECT_NE(dom.output.find("<svg"), std::string::npos);
  auto png = test::run_command(chromium + " " + flags + "--window-size=1280,2400 --screenshot=" + shot + " file://" +
                               files.html_path + " 2>&1");
  ASSERT_EQ(png.status, 0) << png.output;
  ASSERT_TRUE(fs::exists(shot)) << png.output;
  const std::string bytes = test::read_file(shot);
  ASSERT_GT(bytes.size(), 10000u) << "an empty page screenshots to a few hundred bytes";
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace laco
