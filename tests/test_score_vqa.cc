// Issue 43, the VQA-style scorers: VQAv2 and TextVQA (VQA accuracy after the
// official EvalAI answer normalisation), GQA (exact match ignoring case and
// punctuation), DocVQA (ANLS) and ChartQA (relaxed accuracy). Every expected
// value is worked by hand from lmms-eval's code at commit
// 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (the derivation beside it), so
// that a change of rule fails here and names the rule.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/base/error.h"
#include "harness/score/answer_normalize.h"
#include "harness/score/task.h"

namespace laco {
namespace {

TaskType family_task(const std::vector<TaskType>& family, const std::string& name) {
  for (const auto& t : family)
    if (t.name == name) return t;
  ADD_FAILURE() << "no task " << name;
  return {};
}

TaskQuestion question(const std::string& text, std::vector<std::string> answers, const std::string& category = "") {
  TaskQuestion q;
  q.id = "q1";
  q.question = text;
  q.answers = std::move(answers);
  q.category = category;
  return q;
}

// k answers "2" and 10 - k answers "3": the ten human answers of a VQA question.
std::vector<std::string> ten_answers(int k) {
  std::vector<std::string> a(static_cast<size_t>(k), "2");
  a.resize(10, "3");
  return a;
}

// --- EvalAIAnswerProcessor ------------------------------------------------------

TEST(ScoreVqa, PunctuationIsDeletedOrSpacedAsTheProcessorDecides) {
  // ',' with no space beside it and no digit,digit run in the input: replaced by a space.
  EXPECT_EQ(evalai_process_punctuation("x,y"), "x y");
  // COMMA_STRIP finds "1,0": every punctuation character is deleted instead.
  EXPECT_EQ(evalai_process_punctuation("1,000"), "1000");
  // "a, b" holds ", ": the comma is deleted (not spaced), leaving the space that was there.
  EXPECT_EQ(evalai_process_punctuation("a, b"), "a b");
  // '-' stands beside no space: a space.
  EXPECT_EQ(evalai_process_punctuation("left-handed"), "left handed");
  // '(' and ')' each beside no space: both spaced ("(a)b" -> " a b").
  EXPECT_EQ(evalai_process_punctuation("(a)b"), " a b");
  // The test reads the input: " ," is in it, so every ',' goes; ';' has no space beside it: spaced.
  EXPECT_EQ(evalai_process_punctuation("x ,y z;w"), "x y z w");
  // PERIOD_STRIP deletes a '.' not followed by a digit: "3.5" keeps its period, "3." and "end." lose theirs.
  EXPECT_EQ(evalai_process_punctuation("3.5"), "3.5");
  EXPECT_EQ(evalai_process_punctuation("3."), "3");
  EXPECT_EQ(evalai_process_punctuation("end."), "end");
  // '!' beside no space: a space ("yes "); the split of process_digit_article drops it later.
  EXPECT_EQ(evalai_process_punctuation("yes!"), "yes ");
  // re.UNICODE (32) lands in Pattern.sub's count: of 34 periods the first 32 go, 2 stay.
  EXPECT_EQ(evalai_process_punctuation(std::string(34, '.')), "..");
}

TEST(ScoreVqa, NumberWordsArticlesAndContractionsMapAsTheTablesSay) {
  EXPECT_EQ(evalai_process_digit_article("Two"), "2");          // lower, NUMBER_MAP
  EXPECT_EQ(evalai_process_digit_article("ten dogs"), "10 dogs");
  EXPECT_EQ(evalai_process_digit_article("none"), "0");         // NUMBER_MAP maps "none" too
  EXPECT_EQ(evalai_process_digit_article("the dog"), "dog");    // ARTICLES dropped
  EXPECT_EQ(evalai_process_digit_article("An apple and THE pear"), "apple and pear");
  EXPECT_EQ(evalai_process_digit_article("dont"), "don't");     // CONTRACTIONS
  // "its" is no key: "its" and "it's" stay apart.
  EXPECT_EQ(evalai_process_digit_article("its"), "its");
  EXPECT_EQ(evalai_process_digit_article("it's"), "it's");
  // The key "Im" is capitalised; words are lower-cased first, so it never matches.
  EXPECT_EQ(evalai_process_digit_article("Im"), "im");
  // The table's own oddity: "somebody'd" -> "somebodyd".
  EXPECT_EQ(evalai_process_digit_article("somebody'd"), "somebodyd");
}

TEST(ScoreVqa, TextVqaNormalisesWithTheWholeProcessor) {
  // word_tokenize first: lower, "'s" -> " 's" ("it 's"), then the rest.
  EXPECT_EQ(evalai_normalize("It's"), "it 's");
  EXPECT_EQ(evalai_normalize("What's up?"), "what 's up");  // '?' dropped by word_tokenize
  EXPECT_EQ(evalai_normalize("1,000"), "1000");
  // word_tokenize deletes ',' before process_punctuation could space it: "xy", where VQAv2 gets "x y".
  EXPECT_EQ(evalai_normalize("x,y"), "xy");
  EXPECT_EQ(evalai_normalize("Two dogs!"), "2 dogs");
  EXPECT_EQ(evalai_normalize("  A\tCat\n"), "cat");  // strip, tab to space, "a" an article
}

// --- VQA accuracy ----------------------------------------------------------------

TEST(ScoreVqa, AccuracyIsTheMeanOverTheTenLeaveOneOutSubsets) {
  const TaskType vqav2 = family_task(vqa_tasks(), "vqav2");
  // The response "Two" normalises to "2". With k of the ten answers "2":
  // the k answers "2" each see k - 1 matches among the other nine, the 10 - k
  // others see k; acc = min(1, matches / 3), averaged (statistics.mean: the
  // exact mean of the floats, rounded once).
  //   k = 0: all 0                                   -> 0
  //   k = 1: 1 x 0 + 9 x 1/3 = 3       -> 3 / 10     -> 0.3
  //   k = 2: 2 x 1/3 + 8 x 2/3 = 6     -> 6 / 10     -> 0.6
  //   k = 3: 3 x 2/3 + 7 x 1 = 9       -> 9 / 10     -> 0.9 (not 1: the three "2"s see two each)
  //   k = 4: 4 x 1 + 6 x 1 = 10        -> 1
  // In floats fl(1/3) and fl(2/3) sit 2^-54 and 2^-53 below; the exact sums
  // (e.g. 9 x fl(1/3) = 3 - 9 x 2^-54 for k = 1) divided by 10 round to the
  // nearest doubles of 0.3, 0.6 and 0.9, which Python prints as 0.3, 0.6, 0.9.
  const double expected[] = {0.0, 0.3, 0.6, 0.9, 1.0, 1.0};
  for (int k = 0; k <= 5; ++k) {
    const QuestionScore s = vqav2.score(question("How many?", ten_answers(k)), "Two");
    EXPECT_EQ(s.score, expected[k]) << k << " answers match";
    EXPECT_EQ(s.parsed, "2");
    EXPECT_EQ(s.fields.at("exact_match").get<double>(), expected[k]);
  }
}

TEST(ScoreVqa, ResponsesAndAnswersAreNormalisedBeforeTheyAreCompared) {
  const TaskType vqav2 = family_task(vqa_tasks(), "vqav2");
  // Ten answers agree: lmms-eval still normalises ("yes." -> "yes"), all ten match -> 1.
  EXPECT_EQ(vqav2.score(question("Is it?", std::vector<std::string>(10, "yes")), "yes.").score, 1.0);
  // The response is stripped, lower-cased, its article dropped: " the Dog\n" -> "dog".
  const QuestionScore dog = vqav2.score(question("What is it?", std::vector<std::string>(10, "dog")), " the Dog\n");
  EXPECT_EQ(dog.parsed, "dog");
  EXPECT_EQ(dog.score, 1.0);
  // Answers are normalised too: "Two", " two", "2." all become "2" (3 of 10, as k = 3 above -> 0.9).
  std::vector<std::string> answers = {"Two", " two", "2.", "3", "3", "3", "3", "3", "3", "3"};
  EXPECT_EQ(vqav2.score(question("How many?", answers), "2").score, 0.9);
  // "it's" and "its" never meet (no contraction maps "its"): 0.
  EXPECT_EQ(vqav2.score(question("Whose?", std::vector<std::string>(10, "its")), "it's").score, 0.0);
  // VQAv2 spaces the comma of "x,y" (no word_tokenize): "x y" matches "x y".
  EXPECT_EQ(vqav2.score(question("Which?", std::vector<std::string>(10, "x y")), "x,y").score, 1.0);
}

TEST(ScoreVqa, TextVqaMapsContractionsAndSplitsPossessives) {
  const TaskType textvqa = family_task(vqa_tasks(), "textvqa");
  // Three "dont" -> "don't"; the response "Don't" -> "don't": k = 3 -> 0.9 (as above).
  std::vector<std::string> answers(3, "dont");
  answers.resize(10, "no");
  const QuestionScore s = textvqa.score(question("What does it say?", answers), "Don't");
  EXPECT_EQ(s.parsed, "don't");
  EXPECT_EQ(s.score, 0.9);
  // "it's" -> "it 's" (word_tokenize), "its" -> "its": 0.
  EXPECT_EQ(textvqa.score(question("Whose?", std::vector<std::string>(10, "its")), "it's").score, 0.0);
  // TextVQA's word_tokenize deletes the comma: "x,y" -> "xy", which "x y" is not.
  EXPECT_EQ(textvqa.score(question("Which?", std::vector<std::string>(10, "x y")), "x,y").score, 0.0);
  EXPECT_EQ(textvqa.score(question("Which?", std::vector<std::string>(10, "XY")), "x,y").score, 1.0);
}

TEST(ScoreVqa, PromptsTokensAndAggregateAreTheTasks) {
  const TaskType vqav2 = family_task(vqa_tasks(), "vqav2");
  const TaskType textvqa = family_task(vqa_tasks(), "textvqa");
  EXPECT_EQ(vqav2.prompt(question("What color is the DOG?", {})),
            "What color is the DOG?\nAnswer the question using a single word or phrase.");
  // textvqa_doc_to_text capitalises the question (the rest lower-cased); no OCR tokens.
  EXPECT_EQ(textvqa.prompt(question("what is the BRAND of this camera?", {})),
            "What is the brand of this camera?\nAnswer the question using a single word or phrase.");
  EXPECT_EQ(vqav2.max_new_tokens, 16);
  EXPECT_EQ(textvqa.max_new_tokens, 1024);  // no max_new_tokens in the YAML: the llava model's default
  // mean: (0.9 + 0.6) + 0.3 = 1.8 (in floats 1.5 + 0.3 = 1.8), / 3 -> 0.6 (Python: sum([0.9, 0.6, 0.3]) / 3 == 0.6).
  std::vector<QuestionScore> scores(3);
  scores[0].score = 0.9, scores[1].score = 0.6, scores[2].score = 0.3;
  const auto metrics = vqav2.aggregate(std::vector<TaskQuestion>(3), scores);
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].name, "exact_match");
  EXPECT_EQ(metrics[0].value, 0.6);
  EXPECT_THROW(vqav2.score(question("How many?", {}), "2"), Error);
  EXPECT_THROW(vqav2.aggregate({}, {}), Error);
}

// --- GQA -----------------------------------------------------------------------------

TEST(ScoreGqa, ExactMatchIgnoresCaseAndAsciiPunctuationOnly) {
  const TaskType gqa = gqa_task();
  auto score = [&](const std::string& response, const std::string& answer) {
    return gqa.score(question("Is it?", {answer}), response).score;
  };
  EXPECT_EQ(score("Yes", "yes"), 1.0);        // ignore_case
  EXPECT_EQ(score("yes.", "yes"), 1.0);       // '.' deleted
  EXPECT_EQ(score("  yes  ", "yes"), 1.0);    // the response is stripped first
  EXPECT_EQ(score("yes .", "yes"), 0.0);      // "yes ": the space before the period stays
  EXPECT_EQ(score("yes", "yes "), 0.0);       // the reference is never stripped
  EXPECT_EQ(score("tshirt", "t-shirt"), 1.0); // '-' deleted, not spaced
  EXPECT_EQ(score("35", "3.5"), 1.0);         // the period of a number goes too
  EXPECT_EQ(score("no", "yes"), 0.0);
  // No article or number-word rules here (those are VQA's): "two" is not "2", "the dog" not "dog".
  EXPECT_EQ(score("two", "2"), 0.0);
  EXPECT_EQ(score("the dog", "dog"), 0.0);
  EXPECT_EQ(gqa.score(question("Is it?", {"yes"}), "Yes!").parsed, "yes");
}

TEST(ScoreGqa, PromptTokensAndAggregate) {
  const TaskType gqa = gqa_task();
  EXPECT_EQ(gqa.prompt(question("Is the cup to the left of the plate?", {"yes"})),
            "Is the cup to the left of the plate?\nAnswer the question using a single word or phrase.");
  EXPECT_EQ(gqa.max_new_tokens, 16);
  std::vector<QuestionScore> scores(4);
  scores[0].score = 1, scores[2].score = 1, scores[3].score = 1;
  const auto metrics = gqa.aggregate(std::vector<TaskQuestion>(4), scores);
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].name, "exact_match");
  EXPECT_EQ(metrics[0].value, 0.75);  // 3 / 4
}

// --- ANLS and relaxed accuracy -------------------------------------------------------

TEST(ScoreAnls, LevenshteinCountsCodePoints) {
  EXPECT_EQ(levenshtein("kitten", "sitting"), 3u);  // k->s, e->i, +g
  EXPECT_EQ(levenshtein("", "abc"), 3u);
  EXPECT_EQ(levenshtein("straße", "strasse"), 2u);  // ß->s, +s: one code point, not two bytes
  EXPECT_EQ(py_upper_length("straße"), 7u);         // "STRASSE"
}

TEST(ScoreAnls, DocVqaAnlsKeepsHalfAndDropsBelow) {
  const TaskType docvqa = family_task(anls_tasks(), "docvqa");
  auto score = [&](std::vector<std::string> answers, const std::string& response) {
    return docvqa.score(question("What is it?", std::move(answers)), response).score;
  };
  // Stripped and lower-cased on both sides: distance 0 -> 1.
  EXPECT_EQ(score({"hello world"}, "  Hello World "), 1.0);
  // "abcdefghij" (10) against "abcdexxxxx": 5 substitutions over 10 -> 1 - 0.5 = 0.5, kept (the rule is < 0.5).
  EXPECT_EQ(score({"abcdefghij"}, "abcdeXXXXX"), 0.5);
  // 6 of 10 -> 1 - 0.6 = 0.4 < 0.5 -> 0.
  EXPECT_EQ(score({"abcdefghij"}, "abcdXXXXXX"), 0.0);
  // 4 of 10 -> 1 - 0.4 = 0.6.
  EXPECT_EQ(score({"abcdefghij"}, "abcdefXXXX"), 1.0 - 0.4);
  // The best of the accepted answers: the second matches exactly -> 1.
  EXPECT_EQ(score({"abcdefghij", "abcdexxxxx"}, "abcdeXXXXX"), 1.0);
  // The length is the raw texts' len(upper()): "a    b" is 6 long though it compares as "a b";
  // "a b" vs "a c" is 1 edit -> 1 - 1/6.
  EXPECT_EQ(score({"a    b"}, "a c"), 1.0 - 1.0 / 6.0);
  // "straße" vs "strasse": 2 edits; lengths len("STRASSE") = 7 both -> 1 - 2/7.
  EXPECT_EQ(score({"straße"}, "strasse"), 1.0 - 2.0 / 7.0);
  // Both empty: length 0 counts as distance 0 -> 1; an empty response to "x": 1 of 1 -> 0.
  EXPECT_EQ(score({""}, ""), 1.0);
  EXPECT_EQ(score({"x"}, ""), 0.0);
  EXPECT_THROW(score({}, "x"), Error);
}

TEST(ScoreAnls, ChartQaRelaxedAccuracy) {
  const TaskType chartqa = family_task(anls_tasks(), "chartqa");
  auto score = [&](const std::string& response, const std::string& answer) {
    return chartqa.score(question("What is it?", {answer}, "human_test"), response).score;
  };
  // "12%" is 0.12, "12.3" is 12.3: |0.12 - 12.3| / 12.3 ~ 0.99 > 0.05 -> 0; the same the other way round.
  EXPECT_EQ(score("12%", "12.3"), 0.0);
  EXPECT_EQ(score("12.3", "12%"), 0.0);
  EXPECT_EQ(score("0.12", "12%"), 1.0);  // 0.12 == 12 / 100.0
  EXPECT_EQ(score("12%%", "0.12"), 1.0); // rstrip("%") takes the whole run
  // Relative to the target: |105 - 100| / 100 = 0.05 <= 0.05 -> 1; 105.1 -> 0.051 -> 0; 95 -> 1; 94.9 -> 0.
  EXPECT_EQ(score("105", "100"), 1.0);
  EXPECT_EQ(score("105.1", "100"), 0.0);
  EXPECT_EQ(score("95", "100"), 1.0);
  EXPECT_EQ(score("94.9", "100"), 0.0);
  EXPECT_EQ(score("1e2", "100"), 1.0);   // Python's float() reads exponents
  EXPECT_EQ(score("1_000", "1000"), 1.0);  // and underscores between digits
  EXPECT_EQ(score("1,000", "1000"), 0.0);  // but no commas: string comparison, "1,000" != "1000"
  EXPECT_EQ(score(" 12 ", "12"), 1.0);     // the response is stripped
  // Not numbers: case-insensitive exact match.
  EXPECT_EQ(score("Yes", "yes"), 1.0);
  EXPECT_EQ(score("yes.", "yes"), 0.0);
  // A target of 0 is falsy: the texts are compared, so "0.0" is wrong and "0" right.
  EXPECT_EQ(score("0.0", "0"), 0.0);
  EXPECT_EQ(score("0", "0"), 1.0);
  // NaN targets are truthy and never within 5%; inf against a number gives inf > 0.05.
  EXPECT_EQ(score("nan", "nan"), 0.0);
  EXPECT_EQ(score("inf", "100"), 0.0);
}

TEST(ScoreAnls, PromptsTokensAndAggregates) {
  const TaskType docvqa = family_task(anls_tasks(), "docvqa");
  const TaskType chartqa = family_task(anls_tasks(), "chartqa");
  EXPECT_EQ(docvqa.prompt(question("What is the date?", {"1/2/1990"})),
            "What is the date?\nAnswer the question using a single word or phrase.");
  EXPECT_EQ(chartqa.prompt(question("What is the peak value?", {"12"})),
            "What is the peak value?\nAnswer the question with a single word.");
  EXPECT_EQ(docvqa.max_new_tokens, 32);
  EXPECT_EQ(chartqa.max_new_tokens, 16);
  // ChartQA: two human_test questions (1, 0) and one augmented_test (1):
  // relaxed_overall 2/3, relaxed_human_split 1/2, relaxed_augmented_split 1.
  const std::vector<TaskQuestion> qs = {question("a", {"1"}, "human_test"), question("b", {"2"}, "human_test"),
                                        question("c", {"3"}, "augmented_test")};
  std::vector<QuestionScore> scores;
  for (size_t i = 0; i < qs.size(); ++i) scores.push_back(chartqa.score(qs[i], i == 1 ? "5" : qs[i].answers[0]));
  EXPECT_EQ(scores[0].fields.at("relaxed_human_split").get<double>(), 1.0);
  EXPECT_FALSE(scores[0].fields.contains("relaxed_augmented_split"));
  EXPECT_EQ(scores[2].fields.at("relaxed_augmented_split").get<double>(), 1.0);
  const auto metrics = chartqa.aggregate(qs, scores);
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].name, "relaxed_overall");
  EXPECT_EQ(metrics[0].value, 2.0 / 3.0);  // (1.0 + 0.0 + 1.0) / 3
  EXPECT_EQ(metrics[1].name, "relaxed_human_split");
  EXPECT_EQ(metrics[1].value, 0.5);
  EXPECT_EQ(metrics[2].name, "relaxed_augmented_split");
  EXPECT_EQ(metrics[2].value, 1.0);
  // A split with no question reports nothing (lmms-eval has no sample of that metric).
  EXPECT_EQ(chartqa.aggregate({qs[0]}, {scores[0]}).size(), 2u);
  // DocVQA: mean of ANLS values, 0.5 and 1 -> 0.75.
  std::vector<QuestionScore> anls(2);
  anls[0].score = 0.5, anls[1].score = 1.0;
  const auto d = docvqa.aggregate(std::vector<TaskQuestion>(2), anls);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].name, "anls");
  EXPECT_EQ(d[0].value, 0.75);
}

TEST(ScoreAnls, TheRegistryListsTheFamiliesTaskTypes) {
  for (const char* name : {"vqav2", "textvqa", "gqa", "docvqa", "chartqa"}) {
    const TaskType& t = find_task(name);
    EXPECT_EQ(t.name, name);
    EXPECT_NE(t.lmms_eval.find("75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace laco
