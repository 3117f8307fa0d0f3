// The words an accuracy run's LM knows and the answers it chooses among.
// SynthVQA's vocabulary is fixed (its five questions and every family's
// answers, in the order stage-0 caches were always trained with); user data
// brings its own words, so its vocabulary is built from the train data alone:
// the weights, the stage-0 cache and the scoring then depend on nothing the
// test split holds. An answer is one class however many words it has
// ("traffic light"): it is one entry of the vocabulary, never tokenised.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/synthvqa.h"

namespace laco {

/// Usage: const auto v = VqaVocabulary::from_samples(train); v.encode(q, 12); v.answer_id("seven"); v.candidates("digit");
class VqaVocabulary {
 public:
  /// SynthVQA's: <pad>, <unk>, the five questions' words, then every family's answers.
  static const VqaVocabulary& synthvqa();
  /// <pad>, <unk>, the question words of `train` in order of first use, then
  /// its answers (normalised) in order of first use; a family's answers are
  /// those its samples have. An empty answer is an Error (load_vqa refuses it first).
  static VqaVocabulary from_samples(const std::vector<VqaSample>& train);

  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t pad() const { return 0; }
  int64_t unk() const { return 1; }
  /// The id of `word`, or unk().
  int64_t id(const std::string& word) const;
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  const std::string& word(int64_t id) const { return words_.at(static_cast<size_t>(id)); }
  const std::vector<std::string>& words() const { return words_; }

  /// The ids of every answer, in vocabulary order.
  const std::vector<int64_t>& answers() const { return answers_; }
  /// The id of the answer class `answer` (normalised), or -1 when no train sample has it.
  int64_t answer_id(const std::string& answer) const;
  /// The answers a sample of `family` is scored among: the family's answers in
  /// the train data; every answer for "" or a family the train data lacks.
  const std::vector<int64_t>& candidates(const std::string& family) const;
  /// Families with their answers, as in the train data.
  const std::map<std::string, std::vector<std::string>>& family_answers() const { return family_answers_; }

  /// Lower-cases and splits on spaces, with '?' and ',' as words of their own ('.' dropped).
  static std::vector<std::string> tokenize(const std::string& text);
  /// An answer as one class: its tokens joined by single spaces ("Traffic  light." -> "traffic light").
  static std::string normalize_answer(const std::string& text);
  /// The question's ids, left-padded with pad() to `length` (longer: the last `length` kept).
  std::vector<int64_t> encode(const std::string& question, int64_t length) const;

  /// {"words", "answers", "families": {family: answers}}: everything of it the weights depend on.
  nlohmann::json to_json() const;
  /// SHA-256 of to_json().dump().
  std::string sha256() const;
  /// A run's `vocabulary` fact: size, answers, sha256, and the words when there are at most 64.
  nlohmann::json summary() const;

 private:
  VqaVocabulary() = default;
  int64_t add(const std::string& word);
  void add_answer(const std::string& family, const std::string& answer);

  std::vector<std::string> words_;
  std::map<std::string, int64_t> ids_;
  std::vector<int64_t> answers_;
  std::map<std::string, std::vector<std::string>> family_answers_;
  std::map<std::string, std::vector<int64_t>> family_ids_;
};

}  // namespace laco
