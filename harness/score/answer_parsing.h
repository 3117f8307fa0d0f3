// The string rules lmms-eval's task utils apply to a model's response, each
// in one place: Python's str.strip()/split()/lower() as those utils call them,
// and the option-letter extraction of the multiple-choice tasks (MMBench's
// can_infer, lmms-eval's extract_mcq_answer). The scorers (mme.cc, pope.cc,
// multiple_choice.cc, and the VQA-style families) call these instead of
// re-deriving a rule; the tests (tests/test_score_choice.cc) pin each rule to
// lmms-eval's behaviour.
//
// Read from lmms-eval @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/mmbench/mmbench_evals.py (MMBench_Evaluator.can_infer_option,
// can_infer_text) and lmms_eval/tasks/_task_utils/mcq_extract.py
// (extract_mcq_answer).
//
// Strings are UTF-8. Python counts code points where C++ counts bytes; the
// helpers that index (py_prefix, first_code_point, py_len) count code points
// as Python does. Unicode properties come from utf8proc: py_lower is Python's
// lower() (utf8proc's simple lower-case mapping, and U+0130 to "i" + U+0307
// as Python's full mapping has it) except Greek final sigma, which Python
// lowers to U+03C2 at a word's end and this to U+03C3; py_isalpha is Python's
// isalpha() (categories Lu, Ll, Lt, Lm, Lo). utf8proc's Unicode version may
// differ from the Python's that ran lmms-eval for code points added since.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace laco {

/// Python's str.strip() with no argument: Unicode whitespace off both ends.
/// Usage: py_strip("  Yes\n") == "Yes".
std::string py_strip(const std::string& text);
/// Python's str.strip(c) for one ASCII character: every leading and trailing c.
/// Usage: py_strip_char("..B.", '.') == "B".
std::string py_strip_char(const std::string& text, char c);
/// Python's str.split() with no argument: words between runs of whitespace.
/// Usage: py_split(" a  b\n") == {"a", "b"}.
std::vector<std::string> py_split(const std::string& text);
/// Python's str.lower() (Unicode; final sigma aside, see the file comment).
/// Usage: py_lower("Yes, ÉTÉ") == "yes, été".
std::string py_lower(const std::string& text);
/// Every occurrence of `from` replaced by `to` (Python's str.replace).
/// Usage: py_replace("no.", ".", "") == "no".
std::string py_replace(const std::string& text, const std::string& from, const std::string& to);
/// The same on any string type (bytes or code points: UTF-8 replaces alike on either), `from` non-empty.
template <typename S>
S replace_every(const S& text, const S& from, const S& to) {
  S out;
  size_t at = 0;
  for (size_t hit = text.find(from); hit != S::npos; hit = text.find(from, at)) {
    out.append(text, at, hit - at);
    out += to;
    at = hit + from.size();
  }
  out.append(text, at, S::npos);
  return out;
}
/// Python's text[:n]: the first n code points.
/// Usage: py_prefix("yes, it is", 4) == "yes,".
std::string py_prefix(const std::string& text, size_t n);
/// Python's len(text): the number of code points.
size_t py_len(const std::string& text);
/// Python's text[0]: the first code point ("" for "").
std::string first_code_point(const std::string& text);
/// Python's str.isalpha() for the one code point `cp`.
bool py_isalpha(char32_t cp);

/// The letter of option `index` (0 -> "A").
/// Usage: option_letter(2) == "C".
std::string option_letter(size_t index);
/// The 0-based option index a reference answer names: one upper-case letter
/// within `options` ("B" with four options -> 1); nullopt otherwise.
std::optional<size_t> answer_letter_index(const std::string& answer, size_t options);
/// A question's one reference answer; an Error naming the task and question
/// when it has none or several (these tasks have exactly one).
/// Usage: const std::string& gt = single_answer(q.answers, "mme", q.id);
const std::string& single_answer(const std::vector<std::string>& answers, const std::string& task,
                                 const std::string& id);
/// Whether an option text is absent as lmms-eval's MMBench prompt treats it
/// (its create_options_prompt skips empty values and the string "nan").
bool option_is_absent(const std::string& text);

/// MMBench_Evaluator.can_infer_option: the letter of A-E that the response
/// names as a word ("B", "B.", "(B)", ":B", ...); "" when none or several.
/// Usage: mmbench_infer_option("(C) a cat") == "C".
std::string mmbench_infer_option(const std::string& response);
/// MMBench_Evaluator.can_infer_text: the one choice whose text (lower-cased)
/// occurs in the response (lower-cased); "" when none or several match.
/// `choices` are (letter, text) in letter order: MMBench's A-D present options.
/// Usage: mmbench_infer_text("it is a dog", {{"A", "cat"}, {"B", "dog"}}) == "B".
std::string mmbench_infer_text(const std::string& response,
                               const std::vector<std::pair<std::string, std::string>>& choices);
/// lmms-eval's extract_mcq_answer(response, choices): the letter of the
/// highest-priority format (start 10, end 9, answer phrase 7, "(X)" 6, "X." 5,
/// "X:" 4, "X)" 3, "X " 2, anywhere 0), the last occurrence on ties; "" when none.
/// Usage: extract_mcq_answer("The correct answer is (B).", {"A","B","C","D"}) == "B".
std::string extract_mcq_answer(const std::string& response, const std::vector<std::string>& choices);

}  // namespace laco
