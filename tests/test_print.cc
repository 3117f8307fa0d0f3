// The printer layer: one formatter, one list of formats, and printers that
// agree on what a table holds.
#include <nlohmann/json.hpp>

#include "harness/print/number.h"
#include "harness/print/printer.h"
#include "tests/test_util.h"

namespace laco {
namespace {

PrintTable sample() {
  PrintTable t;
  t.title = "Sample";
  t.columns = {{"method"}, {"tokens", "tokens"}, {"latency", "ms"}, {"note"}};
  t.add({std::string("laco"), 36.0, 12.3456, std::string("a|b")});
  t.add({std::string("none"), int64_t{144}, PrintValue(), std::string()});
  t.notes = {"one note"};
  return t;
}

TEST(Print, NumbersFollowTheirUnit) {
  EXPECT_EQ(format_number(144, "tokens"), "144");
  EXPECT_EQ(format_number(144, "ms"), "144.0");
  EXPECT_EQ(format_number(12.3456, "%"), "12.35");
  EXPECT_EQ(format_number(0.0001234, "s"), "0.0001234");
  EXPECT_EQ(format_number(2.5e9, "GFLOP"), "2.5e+09");
  EXPECT_EQ(format_number(36.5, "tokens"), "36.5") << "a fractional count keeps its digits";
  EXPECT_EQ(format_value(PrintValue()), "-");
  EXPECT_EQ(exact_value(PrintValue(0.1)), "0.1");
  EXPECT_EQ(format_fixed(12.3, 2), "12.30");
  EXPECT_EQ(format_fixed(-0.04, 1), "0.0") << "no negative zero in a paper table";
  EXPECT_EQ(format_fixed(-1.26, 1), "-1.3");
}

TEST(Print, OneListOfFormatsAndOneMessage) {
  EXPECT_EQ(printer_formats(), (std::vector<std::string>{"table", "md", "csv", "json"}));
  for (const auto& f : printer_formats()) EXPECT_NO_THROW(make_printer(f)) << f;
  test::expect_error([] { make_printer("xml", "-o"); }, {"-o: unknown format 'xml' (allowed: table, md, csv, json)"});
  test::expect_error([] { sample().add({1.0, 2.0, 3.0, 4.0, 5.0}); }, {"a row of 5 cells for 4 columns"});
}

TEST(Print, EveryPrinterShowsEveryCell) {
  const auto t = sample();
  const std::string text = make_printer("table")->print(t);
  EXPECT_EQ(text,
            "Sample\n\n"
            "method  tokens (tokens)  latency (ms)  note\n"
            "------  ---------------  ------------  ----\n"
            "laco                 36         12.35  a|b\n"
            "none                144             -\n"
            "\none note\n");
  const std::string md = make_printer("md")->print(t);
  EXPECT_NE(md.find("### Sample\n\n| method | tokens (tokens) | latency (ms) | note |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| laco   |              36 |        12.35 | a\\|b |"), std::string::npos) << md;
  EXPECT_NE(md.find("\n- one note\n"), std::string::npos) << md;
  const std::string flat = make_markdown_printer({/*pad=*/false})->print(t);
  EXPECT_NE(flat.find("| --- | ---: | ---: | --- |\n| laco | 36 | 12.35 | a\\|b |\n"), std::string::npos) << flat;
  EXPECT_EQ(make_printer("csv")->print(t), "method,tokens,latency,note\nlaco,36,12.3456,a|b\nnone,144,,\n");
  const auto json = nlohmann::json::parse(make_printer("json")->print(t));
  ASSERT_EQ(json.size(), 2u);
  EXPECT_EQ(json[0]["latency"].get<double>(), 12.3456);
  EXPECT_TRUE(json[1]["latency"].is_null());
  EXPECT_EQ(json[1]["tokens"].get<int64_t>(), 144);
  EXPECT_EQ(csv_escape("a,\"b\"\nc"), "\"a,\"\"b\"\"\nc\"");
}

}  // namespace
}  // namespace laco
