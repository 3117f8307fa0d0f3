// Printers for the table model (table.h), one per format, chosen by one
// factory from one list of format names: the `-o/--format` of every `laco`
// subcommand that prints a table. Each printer lives in its own file
// (printer_text.cc, printer_markdown.cc, printer_csv.cc, printer_json.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

class Printer {
 public:
  virtual ~Printer() = default;
  /// The whole table (title and notes included where the format has room).
  virtual std::string print(const PrintTable& table) const = 0;
};

/// table (aligned columns for a terminal), md (Markdown), csv, json.
const std::vector<std::string>& printer_formats();
/// The printer for `format`, or an Error "<where>: unknown format 'x' (allowed: table, md, csv, json)".
std::unique_ptr<Printer> make_printer(const std::string& format, const std::string& where = "--format");
/// Checks a format name without building a printer (same error).
void check_printer_format(const std::string& format, const std::string& where = "--format");

/// Markdown options: `pad` aligns the cells for reading as text; unpadded
/// output (`| --- | ---: |` rules) is what the report's files use.
struct MarkdownStyle {
  bool pad = true;
};
std::unique_ptr<Printer> make_markdown_printer(MarkdownStyle style);

/// Escapes one CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
std::string csv_escape(const std::string& text);
/// Escapes one Markdown cell: '|' as "\|", line breaks as spaces.
std::string markdown_escape(const std::string& text);

}  // namespace laco
