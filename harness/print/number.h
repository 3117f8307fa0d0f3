// One number formatter for every printer and every table: the digits follow
// the unit (counts print as integers; everything else keeps four significant
// digits, one decimal from 100 up, scientific outside 1e-3 .. 1e7).
#pragma once

#include <string>

#include "harness/print/table.h"

namespace laco {

/// Usage: format_number(12.3456, "%") == "12.35"; format_number(144, "tokens") == "144".
std::string format_number(double value, const std::string& unit = "");
/// Exactly `decimals` digits after the point, as paper tables print a column
/// ("12.30"); a zero never prints as "-0.0".
std::string format_fixed(double value, int decimals);
/// A cell as the table and Markdown printers show it ("-" for missing); text as is.
std::string format_value(const PrintValue& value, const std::string& unit = "");
/// A cell at full precision, for csv (empty for missing).
std::string exact_value(const PrintValue& value);

}  // namespace laco
