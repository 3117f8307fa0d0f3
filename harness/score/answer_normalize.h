// The text rules lmms-eval's VQA-style scorers share, each in one place: the
// Python str methods they need beyond answer_parsing.h's (which holds
// py_strip, py_split, py_lower, py_len for every scorer): capitalize, the
// length of upper(), float(); the official VQA answer normalisation
// (EvalAIAnswerProcessor of lmms_eval/tasks/_task_utils/vqa_eval_metric.py)
// and the Levenshtein distance of lmms_eval/api/metrics.py. Written from
// lmms-eval at commit 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06).
//
// Texts are UTF-8 and handled as Python handles a str: by code points (an
// invalid byte counts as one U+FFFD). Lower-casing is answer_parsing.h's
// py_lower wherever lmms-eval lower-cases (one rule for every scorer).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace laco {

// --- Python's str methods ---------------------------------------------------

/// len(text.upper()) (ANLS's length): code points, counting the unconditional
/// multi-code-point upper-case mappings of Unicode's SpecialCasing.txt ("ß" -> "SS": 2).
/// Usage: py_upper_length("straße") == 7.
size_t py_upper_length(const std::string& text);
/// text.capitalize(): the first code point title-cased (Unicode simple mapping), the rest py_lower-ed.
/// Usage: py_capitalize("what is the BRAND?") == "What is the brand?".
std::string py_capitalize(const std::string& text);
/// float(text): Python's literal (whitespace, sign, digits with single '_'
/// between them, '.', exponent, inf/infinity/nan in any case); nullopt where
/// Python raises ValueError. Non-ASCII digits, which Python accepts, are refused.
/// Usage: py_float(" 1_000.5 ") == 1000.5; py_float("12%") == nullopt.
std::optional<double> py_float(const std::string& text);

// --- EvalAIAnswerProcessor (the official VQA answer normalisation) -----------

/// word_tokenize: lower-case, drop ',' and '?', "'s" -> " 's", strip.
std::string evalai_word_tokenize(const std::string& text);
/// process_punctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is
/// deleted when it stands beside a space in the input or the input has a
/// digit-comma-digit run, else replaced by a space; then the first 32 periods
/// not followed by a digit are deleted ("3.5" keeps its period).
std::string evalai_process_punctuation(const std::string& text);
/// process_digit_article: lower-case, split, number words zero..ten (and
/// "none") to digits, articles a/an/the dropped, contractions ("dont" ->
/// "don't") mapped, joined by single spaces.
std::string evalai_process_digit_article(const std::string& text);
/// The processor's __call__ (TextVQA): word_tokenize, newlines and tabs to
/// spaces, strip, process_punctuation, process_digit_article.
/// Usage: evalai_normalize("Two dogs!") == "2 dogs".
std::string evalai_normalize(const std::string& text);

// --- Levenshtein --------------------------------------------------------------

/// The edit distance (insert, delete, substitute, each 1) between two texts'
/// code points, as lmms_eval/api/metrics.py's levenshtein_distance.
/// Usage: levenshtein("kitten", "sitting") == 3.
size_t levenshtein(const std::string& a, const std::string& b);

}  // namespace laco
