#include "report/report.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/text.h"
#include "harness/model/compressor.h"
#include "harness/print/printer.h"
#include "report/finetune_table.h"
#include "report/plots.h"
#include "report/render.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

bool wants(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string joined(const std::set<std::string>& items) {
  std::vector<std::string> v(items.begin(), items.end());
  return v.empty() ? "-" : join(v);
}

const char* kStyle = R"(body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1240px;margin:24px auto;padding:0 16px;color:#222}
h1{font-size:24px}h2{font-size:18px;margin-top:32px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
th{border-bottom:2px solid #333;vertical-align:bottom}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.rule td{border-top:1px solid #333}.unit{font-weight:normal;color:#666;font-size:11px}
ul.notes{font-size:12px;color:#555}.charts{display:flex;flex-wrap:wrap;gap:16px}
footer{margin-top:40px;font-size:12px;color:#555;border-top:1px solid #ccc;padding-top:8px}
footer dt{font-weight:bold;float:left;clear:left;width:150px}footer dd{margin-left:160px})";

}  // namespace

std::vector<std::string> report_format_names() { return {"md", "latex", "csv", "html"}; }

void check_report_request(const ReportRequest& r) {
  if (r.formats.empty()) fail("--files: empty (allowed: {})", join(report_format_names()));
  for (const auto& f : r.formats)
    if (!wants(report_format_names(), f))
      fail("--files: unknown file format '{}' (allowed: {})", f, join(report_format_names()));
  check_printer_format(r.print_format, "--format");
  if (r.tables.empty()) fail("--table: empty (allowed: {}, all)", join(table_names()));
  for (const auto& t : r.tables)
    if (t != "all" && !wants(table_names(), t))
      fail("--table: unknown table '{}' (allowed: {}, all)", t, join(table_names()));
  check_ratio(r.options.ratio, "--ratio");
}

std::string render_latex_document(const std::vector<Table>& tables, const std::vector<Chart>& charts) {
  std::string out =
      "% laco report: compile with pdflatex; each table environment can be pasted into a paper using booktabs,\n"
      "% each figure (also plotN.tex) into one using pgfplots.\n"
      "\\documentclass{article}\n\\usepackage[margin=1.5cm,landscape]{geometry}\n\\usepackage{booktabs}\n"
      "\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.17}\n\\begin{document}\n";
  for (const auto& t : tables) out += render_latex(t) + "\n";
  for (const auto& c : charts) out += render_pgfplots_figure(c) + "\n";
  return out + "\\end{document}\n";
}

std::string render_report_html(const std::vector<Table>& tables, const std::vector<std::string>& charts,
                               const std::vector<RunRecord>& runs, const ReportRequest& request,
                               const std::map<std::string, std::string>& table_charts) {
  std::set<std::string> commits, hosts, devices, torch, threads, evals;
  std::string first, last;
  for (const auto& r : runs) {
    commits.insert(r.provenance.commit());
    hosts.insert(r.provenance.host);
    devices.insert(r.provenance.device);
    torch.insert(r.provenance.torch_version);
    threads.insert(r.provenance.threads);
    evals.insert(r.eval());
    if (!r.provenance.started_at.empty() && (first.empty() || r.provenance.started_at < first)) first = r.provenance.started_at;
    if (r.provenance.finished_at > last) last = r.provenance.finished_at;
  }
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                    "<title>laco-bench report</title>\n<style>\n";
  out += kStyle;
  out += "\n</style>\n</head>\n<body>\n<h1>laco-bench report</h1>\n";
  bool synthvqa = false, benchmark = false, finetune = false;
  for (const auto& r : runs) (r.spec.is_benchmark() ? benchmark : r.spec.is_finetune() ? finetune : synthvqa) = true;
  std::vector<std::string> intro = {
      "Visual-token compression inside the vision encoder (LaCo) against Pixel-Shuffle, LDPv2 and TokenPacker."};
  if (synthvqa || (!benchmark && !finetune))
    intro.push_back("Accuracy is measured on SynthVQA, a generated proxy benchmark, not MME or TextVQA.");
  if (benchmark)
    intro.push_back("In the benchmark tables a released checkpoint answers a benchmark file's questions, scored as "
                    "lmms-eval scores the task.");
  if (finetune)
    intro.push_back("In the fine-tune tables a released checkpoint is fine-tuned with the method inside (laco train); "
                    "their losses are training losses on the table's conversation file, with each table's loss "
                    "curves below it.");
  out += "<p>" + join(intro, " ") + "</p>\n";
  for (const auto& t : tables) {
    out += render_html(t);
    auto chart = table_charts.find(t.name);
    if (chart != table_charts.end()) out += "<div class=\"charts\">\n" + chart->second + "</div>\n";
  }
  if (!charts.empty()) {
    out += "<h2 id=\"plots\">Plots</h2>\n<div class=\"charts\">\n";
    for (const auto& c : charts) out += c;
    out += "</div>\n";
  }
  out += "<footer>\n<dl>\n";
  auto item = [&](const std::string& k, const std::string& v) {
    out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", html_escape(k), html_escape(v));
  };
  item("database", request.source.empty() ? "-" : request.source);
  item("finished runs", fmt::format("{} ({})", runs.size(), joined(evals)));
  item("git commits", joined(commits));
  item("runs made", first.empty() ? "-" : first + " .. " + last);
  item("hosts", joined(hosts));
  item("devices", joined(devices));
  item("torch", joined(torch));
  item("threads", joined(threads));
  out += "</dl>\n<p>Generated by <code>laco report</code> from the database alone; regenerating gives the same "
         "bytes.</p>\n</footer>\n</body>\n</html>\n";
  return out;
}

ReportFiles write_report(const std::vector<RunRecord>& runs, const ReportRequest& request) {
  check_report_request(request);
  const RunIndex index(runs, request.options);
  std::vector<Table> tables;
  for (auto& t : build_tables(index, request.options))
    if (wants(request.tables, "all") || wants(request.tables, table_selector(t))) tables.push_back(std::move(t));
  // The plots are of SynthVQA runs: none in a report of benchmark runs or fine-tunes alone.
  const std::vector<Chart> chart_models =
      index.reports_synthvqa() ? report_charts(index, request.options) : std::vector<Chart>{};
  std::vector<std::string> charts;
  for (const auto& c : chart_models) charts.push_back(render_svg(c));
  // A fine-tune table's loss curves, under it in the HTML page and as NAME_loss.svg: one per table reported.
  std::map<std::string, std::string> table_charts;
  if (!index.finetune_runs().empty())
    for (const auto& [name, chart] : finetune_loss_charts(index.finetune_runs()))
      if (std::any_of(tables.begin(), tables.end(), [&, &name = name](const Table& t) { return t.name == name; }))
        table_charts[name] = render_svg(chart, 800, 400);

  const fs::path dir(request.out_dir);
  ReportFiles files;
  std::vector<NamedFile> set;  // written together at the end: the folder never mixes two reports
  auto put = [&](const std::string& name, const std::string& content) {
    set.emplace_back(name, content);
    files.written.push_back((dir / name).string());
  };
  std::vector<std::string> markdown;
  std::string all_markdown;
  for (const auto& t : tables) {
    markdown.push_back(render_markdown(t));
    all_markdown += markdown.back() + "\n";
  }
  if (request.print_format == "md") {
    files.printed = all_markdown;
  } else {
    const auto printer = make_printer(request.print_format);
    for (const auto& t : tables) files.printed += printer->print(print_table(t)) + (request.print_format == "table" ? "\n" : "");
  }
  if (wants(request.formats, "md")) {
    for (size_t i = 0; i < tables.size(); ++i) put(tables[i].name + ".md", markdown[i]);
    put("report.md", all_markdown);
  }
  if (wants(request.formats, "latex")) {
    for (const auto& t : tables) put(t.name + ".tex", render_latex(t));
    for (size_t i = 0; i < chart_models.size(); ++i) put(fmt::format("plot{}.tex", i + 1), render_pgfplots(chart_models[i]));
    put("report.tex", render_latex_document(tables, chart_models));
  }
  if (wants(request.formats, "csv")) {
    std::string all = csv_header();
    for (const auto& t : tables) all += render_csv_rows(t);
    put("report.csv", all);
  }
  if (wants(request.formats, "html")) {
    for (size_t i = 0; i < charts.size(); ++i) put(fmt::format("plot{}.svg", i + 1), charts[i]);
    for (const auto& [name, svg] : table_charts) put(name + "_loss.svg", svg);
    put("report.html", render_report_html(tables, charts, runs, request, table_charts));
    files.html_path = (dir / "report.html").string();
  }
  if (!set.empty()) write_file_set(request.out_dir, set);
  return files;
}

}  // namespace laco
