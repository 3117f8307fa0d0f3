// Issue 43: MME, POPE and the multiple-choice tasks scored as lmms-eval scores
// them. Every expected value below is worked by hand from lmms-eval's code
// @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (tasks/mme/utils.py,
// tasks/pope/utils.py, tasks/mmbench/{en_utils,mmbench_evals}.py,
// tasks/_task_utils/mcq_extract.py, tasks/seedbench/utils.py,
// tasks/scienceqa/utils.py); the derivation is the comment beside it.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"
#include "tests/test_util.h"

namespace laco {
namespace {

TaskQuestion question(const std::string& id, const std::string& text, const std::string& answer,
                      const std::string& category = "", const std::string& image = "") {
  TaskQuestion q;
  q.id = id;
  q.question = text;
  q.answers = {answer};
  q.category = category;
  q.image_id = image;
  return q;
}

// The metric named `name` in `metrics`; a test failure (and NaN) when absent.
double metric(const std::vector<TaskMetric>& metrics, const std::string& name) {
  for (const auto& m : metrics)
    if (m.name == name) return m.value;
  ADD_FAILURE() << "no metric " << name;
  return std::nan("");
}

std::vector<std::string> metric_names(const std::vector<TaskMetric>& metrics) {
  std::vector<std::string> names;
  for (const auto& m : metrics) names.push_back(m.name);
  return names;
}

// Scores every (question, response) with the task, then aggregates.
std::vector<TaskMetric> run(const TaskType& task, const std::vector<TaskQuestion>& questions,
                            const std::vector<std::string>& responses) {
  std::vector<QuestionScore> scores;
  for (size_t i = 0; i < questions.size(); ++i) scores.push_back(task.score(questions[i], responses[i]));
  return task.aggregate(questions, scores);
}

// ---- MME ------------------------------------------------------------------

TEST(ScoreMme, PromptDropsTheYesNoSuffixAndAddsThePostPrompt) {
  const TaskType& mme = find_task("mme");
  EXPECT_EQ(mme.max_new_tokens, 16);  // mme.yaml generation_kwargs
  // mme_doc_to_text: strip, replace " Please answer yes or no." by "", append the default post_prompt.
  EXPECT_EQ(mme.prompt(question("1", "  Is there a dog in this image? Please answer yes or no.\n", "Yes")),
            "Is there a dog in this image?\nAnswer the question using a single word or phrase.");
  EXPECT_EQ(mme.prompt(question("1", "Is this a cat?", "Yes")),
            "Is this a cat?\nAnswer the question using a single word or phrase.");
}

TEST(ScoreMme, ParsesYesNoAsParsePredAns) {
  const TaskType& mme = find_task("mme");
  const TaskQuestion q = question("q", "Is it?", "Yes", "existence", "img.png");
  // parse_pred_ans(p): p.lower().strip().replace(".", ""); "yes"/"no" kept; one
  // character: y -> yes, n -> no, else other; else "yes" in p[:4] -> yes,
  // "no" in p[:4] -> no, else other.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Yes, it is.", "yes"},        // "yes, it is" -> p[:4] = "yes," holds "yes"
      {"no.", "no"},                 // "no" exactly
      {"The answer is yes", "other"},  // p[:4] = "the " holds neither
      {"  YES.\n", "yes"},           // "yes"
      {"Y", "yes"},                  // one character "y"
      {"n.", "no"},                  // "n" after dropping '.'
      {"x", "other"},                // one character, neither y nor n
      {"", "other"},                 // length 0 is not 1: p[:4] = "" holds neither
      {"Not sure", "no"},            // p[:4] = "not " holds "no"
      {"snow", "no"},                // p[:4] = "snow" holds "no"
      {"eyes", "yes"},               // p[:4] = "eyes" holds "yes"
      {"I think yes", "other"},      // p[:4] = "i th"
      {"...no", "no"},               // every '.' dropped: "no"
  };
  for (const auto& [response, parsed] : cases) {
    const QuestionScore s = mme.score(q, response);
    EXPECT_EQ(s.parsed, parsed) << response;
    EXPECT_EQ(s.score, parsed == "yes" ? 1.0 : 0.0) << response;
  }
  // The reference is normalised the same way ("No." -> "no"); anything but yes/no is refused (its assert).
  EXPECT_EQ(mme.score(question("q", "Is it?", "No.", "existence", "i"), "no").score, 1.0);
  test::expect_error([&] { mme.score(question("q7", "Is it?", "maybe", "existence", "i"), "yes"); },
                     {"mme", "q7", "maybe", "yes or no"});
  test::expect_error([&] { mme.score(question("q8", "Is it?", "yes", "existence", ""), "yes"); },
                     {"mme", "q8", "image id"});
}

TEST(ScoreMme, PerSampleFieldsAreLmmsEvalsUnderItsMetricName) {
  const TaskType& mme = find_task("mme");
  // mme_process_results: {key: {question_id (the image), category, score}},
  // key = perception for the ten perception categories, else cognition.
  const QuestionScore p = mme.score(question("1", "Q?", "Yes", "OCR", "OCR/0001.png"), "yes");
  EXPECT_EQ(p.fields, (nlohmann::json{{"mme_perception_score",
                                       {{"question_id", "OCR/0001.png"}, {"category", "OCR"}, {"score", 1.0}}}}));
  const QuestionScore c = mme.score(question("2", "Q?", "Yes", "text_translation", "t/1.png"), "no");
  EXPECT_EQ(c.fields, (nlohmann::json{{"mme_cognition_score",
                                       {{"question_id", "t/1.png"}, {"category", "text_translation"}, {"score", 0.0}}}}));
  // A category outside the perception list counts to cognition, as its `else` does.
  EXPECT_TRUE(mme.score(question("3", "Q?", "Yes", "my_category", "m/1.png"), "yes").fields.contains("mme_cognition_score"));
}

TEST(ScoreMme, AccPlusPerImageAndSumsOverThePresentCategories) {
  const TaskType& mme = find_task("mme");
  const std::vector<TaskQuestion> qs = {
      // existence: image e1 both right; image e2 one right, one wrong.
      question("1", "Q?", "Yes", "existence", "e1"), question("2", "Q?", "No", "existence", "e1"),
      question("3", "Q?", "Yes", "existence", "e2"), question("4", "Q?", "No", "existence", "e2"),
      // count: image c1 both wrong.
      question("5", "Q?", "Yes", "count", "c1"), question("6", "Q?", "No", "count", "c1"),
      // code_reasoning (cognition): image r1 one right.
      question("7", "Q?", "Yes", "code_reasoning", "r1"), question("8", "Q?", "No", "code_reasoning", "r1"),
      // a category lmms-eval does not list: cognition; image m1 both right.
      question("9", "Q?", "Yes", "my_category", "m1"), question("10", "Q?", "No", "my_category", "m1"),
  };
  const std::vector<std::string> answers = {"Yes", "No", "Yes", "Yes", "No", "Yes", "Yes, it is", "Yes", "yes", "no"};
  const auto metrics = run(mme, qs, answers);
  // mme_aggregate_results per category, per image: acc = mean x 100, acc+ = 100 if both right, score = acc + acc+;
  // the category's score is the mean over its images.
  //   existence: e1 100 + 100 = 200; e2 50 + 0 = 50; mean 125 (= acc 75 + acc+ 50)
  //   count: c1 0 + 0 = 0
  //   perception = 125 + 0 = 125 (the eight absent perception categories add nothing)
  //   code_reasoning: r1 50 + 0 = 50; my_category: m1 200; cognition = 50 + 200 = 250
  EXPECT_EQ(metric_names(metrics), (std::vector<std::string>{"mme_perception_score", "mme_cognition_score"}));
  EXPECT_DOUBLE_EQ(metric(metrics, "mme_perception_score"), 125.0);
  EXPECT_DOUBLE_EQ(metric(metrics, "mme_cognition_score"), 250.0);

  // No cognition question at all: lmms-eval reports no cognition metric (no sample produced it).
  const std::vector<TaskQuestion> only_existence(qs.begin(), qs.begin() + 4);
  const auto p = run(mme, only_existence, {"Yes", "No", "Yes", "Yes"});
  EXPECT_EQ(metric_names(p), (std::vector<std::string>{"mme_perception_score"}));
  EXPECT_DOUBLE_EQ(metric(p, "mme_perception_score"), 125.0);
}

TEST(ScoreMme, AnImageWithoutItsPairIsAnError) {
  const TaskType& mme = find_task("mme");
  // Its assert len(scores) == 2 ("MME only supports pairwise evaluation").
  const std::vector<TaskQuestion> qs = {question("1", "Q?", "Yes", "color", "c1"),
                                        question("2", "Q?", "No", "color", "c1"),
                                        question("3", "Q?", "Yes", "color", "c2")};
  test::expect_error([&] { run(mme, qs, {"yes", "no", "yes"}); }, {"mme", "'c2'", "color", "1 question"});
}

// ---- POPE -----------------------------------------------------------------

TEST(ScorePope, PromptAndExactYesNo) {
  const TaskType& pope = find_task("pope");
  EXPECT_EQ(pope.max_new_tokens, 128);  // pope.yaml
  // pope_doc_to_text: pre_prompt "" + question.strip() + the default post_prompt.
  EXPECT_EQ(pope.prompt(question("1", " Is there a car in the image? ", "yes")),
            "Is there a car in the image?\nAnswer the question using a single word or phrase.");
  const TaskQuestion q = question("1", "Is there a car in the image?", "Yes");
  // pope_process_results: pred = response.lower().strip(); right iff pred == gt ("yes"/"no").
  EXPECT_EQ(pope.score(q, " YES\n").score, 1.0);
  EXPECT_EQ(pope.score(q, "Yes.").score, 0.0);  // "yes." is not "yes": no parsing
  EXPECT_EQ(pope.score(q, "Yes.").parsed, "yes.");
  const QuestionScore s = pope.score(q, "yes");
  const nlohmann::json sample = {{"question_id", "1"}, {"score", 1.0}, {"prediction", "yes"}, {"ground_truth", "yes"}};
  EXPECT_EQ(s.fields["pope_f1_score"], sample);
  EXPECT_EQ(s.fields.size(), 5u);
  test::expect_error([&] { pope.score(question("p9", "Q?", "maybe"), "yes"); }, {"pope", "p9", "yes or no"});
}

TEST(ScorePope, AllYesResponses) {
  const TaskType& pope = find_task("pope");
  const std::vector<TaskQuestion> qs = {question("1", "Q?", "yes"), question("2", "Q?", "yes"),
                                        question("3", "Q?", "no"), question("4", "Q?", "no")};
  const auto m = run(pope, qs, {"Yes", "Yes", "Yes", "Yes"});
  // scores 1,1,0,0 -> accuracy 0.5; TP 2, FP 2 -> precision 0.5; TP 2, FN 0 -> recall 1;
  // F1 = 2 (0.5 x 1) / 1.5 = 2/3; yes_ratio counts the *references*: 2 of 4 = 0.5, not 1.
  EXPECT_EQ(metric_names(m), (std::vector<std::string>{"pope_accuracy", "pope_precision", "pope_recall",
                                                        "pope_f1_score", "pope_yes_ratio"}));
  EXPECT_DOUBLE_EQ(metric(m, "pope_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(metric(m, "pope_precision"), 0.5);
  EXPECT_DOUBLE_EQ(metric(m, "pope_recall"), 1.0);
  EXPECT_DOUBLE_EQ(metric(m, "pope_f1_score"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(metric(m, "pope_yes_ratio"), 0.5);
}

TEST(ScorePope, ZeroPositivesAndZeroDenominators) {
  const TaskType& pope = find_task("pope");
  // No "yes" reference: [no, no, no] answered [no, yes, maybe].
  // scores 1,0,0 -> accuracy 1/3; TP 0, FP 1 -> precision 0/1 = 0; TP + FN = 0 -> recall 0 (its guard);
  // precision + recall = 0 -> F1 0 (its guard); yes_ratio 0/3 = 0.
  const auto m = run(pope, {question("1", "Q?", "no"), question("2", "Q?", "no"), question("3", "Q?", "no")},
                     {"no", "yes", "maybe"});
  EXPECT_DOUBLE_EQ(metric(m, "pope_accuracy"), 1.0 / 3.0);
  EXPECT_EQ(metric(m, "pope_precision"), 0.0);
  EXPECT_EQ(metric(m, "pope_recall"), 0.0);
  EXPECT_EQ(metric(m, "pope_f1_score"), 0.0);
  EXPECT_EQ(metric(m, "pope_yes_ratio"), 0.0);
  // No "yes" prediction: [yes, no] answered [no, no]: TP + FP = 0 -> precision 0; FN 1 -> recall 0/1 = 0;
  // F1 0; accuracy 1/2; yes_ratio 1/2.
  const auto n = run(pope, {question("1", "Q?", "yes"), question("2", "Q?", "no")}, {"no", "no"});
  EXPECT_EQ(metric(n, "pope_precision"), 0.0);
  EXPECT_EQ(metric(n, "pope_recall"), 0.0);
  EXPECT_EQ(metric(n, "pope_f1_score"), 0.0);
  EXPECT_DOUBLE_EQ(metric(n, "pope_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(metric(n, "pope_yes_ratio"), 0.5);
  // A "yes" question answered neither yes nor no is no false negative:
  // [yes, yes, no] answered [yes, "Yes, there is.", no]: scores 1,0,1 -> accuracy 2/3; TP 1, FP 0 ->
  // precision 1; FN counts pred == "no" only: 0 -> recall 1/1 = 1; F1 = 2 (1 x 1) / 2 = 1; yes_ratio 2/3.
  const auto o = run(pope, {question("1", "Q?", "yes"), question("2", "Q?", "yes"), question("3", "Q?", "no")},
                     {"yes", "Yes, there is.", "no"});
  EXPECT_DOUBLE_EQ(metric(o, "pope_accuracy"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(metric(o, "pope_precision"), 1.0);
  EXPECT_DOUBLE_EQ(metric(o, "pope_recall"), 1.0);
  EXPECT_DOUBLE_EQ(metric(o, "pope_f1_score"), 1.0);
  EXPECT_DOUBLE_EQ(metric(o, "pope_yes_ratio"), 2.0 / 3.0);
  // No question: no metric (lmms-eval aggregates only metrics some sample produced).
  EXPECT_TRUE(pope.aggregate({}, {}).empty());
}

// ---- Multiple choice ------------------------------------------------------

TaskQuestion animal_question(const std::string& id = "q") {
  TaskQuestion q = question(id, "What animal is shown?", "B", "attribute_recognition");
  q.options = {"dog", "cat", "bird", "fish"};
  return q;
}

TEST(ScoreChoice, PythonStringRules) {
  // str.strip() takes Unicode whitespace (U+3000, U+00A0), str.split() too.
  EXPECT_EQ(py_strip("\xE3\x80\x80 B\xC2\xA0\n"), "B");
  EXPECT_EQ(py_split(" a\t b\xE3\x80\x80" "c "), (std::vector<std::string>{"a", "b", "c"}));
  // s[:n] and len(s) count code points: "日本語" is three.
  EXPECT_EQ(py_prefix("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 2), "\xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(py_len("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), 3u);
  // str.lower() is Unicode's: "ÉTÉ" -> "été"; "İ" -> "i" + U+0307 (its full mapping).
  EXPECT_EQ(py_lower("Yes, \xC3\x89T\xC3\x89"), "yes, \xC3\xA9t\xC3\xA9");
  EXPECT_EQ(py_lower("\xC4\xB0"), "i\xCC\x87");
  // str.isalpha(): letters of any script; CJK punctuation and digits are none.
  EXPECT_TRUE(py_isalpha(U'\u00E9'));
  EXPECT_TRUE(py_isalpha(U'\u4E2D'));
  EXPECT_FALSE(py_isalpha(U'\u3002'));
  EXPECT_FALSE(py_isalpha(U'1'));
  EXPECT_EQ(py_strip_char("..B.", '.'), "B");
  EXPECT_EQ(py_replace("a.b..c", ".", ""), "abc");
}

TEST(ScoreChoice, MmbenchCanInferAndExtractMcq) {
  // can_infer_option: one bare letter of A-E among the words, unless "A" is a
  // word of a response longer than three words; then the decorated forms in its order.
  EXPECT_EQ(mmbench_infer_option("B"), "B");
  EXPECT_EQ(mmbench_infer_option("(B)"), "B");      // ("(", ")")
  EXPECT_EQ(mmbench_infer_option("B. cat"), "B");   // ("", ".")
  EXPECT_EQ(mmbench_infer_option("E"), "E");        // A-E whatever the option count
  EXPECT_EQ(mmbench_infer_option("A cat"), "A");    // two words: the bare "A" is trusted
  EXPECT_EQ(mmbench_infer_option("A cat is on the mat"), "");  // "A" may be the article; no decorated letter
  EXPECT_EQ(mmbench_infer_option("B or C"), "");    // two bare letters, no decorated one
  EXPECT_EQ(mmbench_infer_option("b"), "");         // letters are upper-case
  // can_infer_text: exactly one option text inside the lower-cased response.
  const std::vector<std::pair<std::string, std::string>> choices = {{"A", "dog"}, {"B", "Cat"}};
  EXPECT_EQ(mmbench_infer_text("It is a CAT", choices), "B");
  EXPECT_EQ(mmbench_infer_text("a cat and a dog", choices), "");
  EXPECT_EQ(mmbench_infer_text("an \xC3\xA9" "clair", {{"A", "\xC3\x89" "clair"}, {"B", "cake"}}), "A");  // "Éclair" lowered
  // extract_mcq_answer's "start": "A" then a letter of another script ("A中") is no start, "A。" is:
  // " A中 " has neither pattern nor phrase; fallback 'A' anywhere -> "A" all the same; " A。 " start -> "A".
  EXPECT_EQ(extract_mcq_answer("A\xE4\xB8\xAD", {"A", "B"}), "A");
  EXPECT_EQ(extract_mcq_answer("B\xE3\x80\x82 A", {"A", "B"}), "B");  // start (10) beats "A" at the end (9)
  // extract_mcq_answer, its docstring's example: " The correct answer is (B) " (the final '.' stripped)
  // gives (B) parentheses 6, B) right_paren 3, phrases "answer is"/"correct answer is"/... then 'B' 7:
  // the phrase wins.
  EXPECT_EQ(extract_mcq_answer("The correct answer is (B).", {"A", "B", "C", "D"}), "B");
  // " A or B? I choose B ": "A " space 2, "B " space 2, "i choose" then 'B' phrase 7, and the text
  // starts with "A" followed by a space: start 10 wins over the phrase.
  EXPECT_EQ(extract_mcq_answer("A or B? I choose B", {"A", "B", "C", "D"}), "A");
  // " Answer:B ": "B " space 2; starts with "A" but 'n' is a letter (no start); ends with "B" after ':' (end 9).
  EXPECT_EQ(extract_mcq_answer("Answer:B", {"A", "B", "C", "D"}), "B");
  // No upper-case letter of A-D anywhere: "".
  EXPECT_EQ(extract_mcq_answer("b", {"A", "B", "C", "D"}), "");
  EXPECT_EQ(extract_mcq_answer("  ", {"A", "B"}), "");
}

TEST(ScoreChoice, MmbenchPromptAndMatching) {
  const TaskType& mmb = find_task("mmbench_en");
  EXPECT_EQ(mmb.max_new_tokens, 1024);  // _default_template_mmbench_en_yaml
  TaskQuestion q = animal_question();
  q.extra["hint"] = "A pet photo.";
  // mmbench_doc_to_text: "{hint} {question} {options}", options = "There are several options:\nA. dog\n..."
  // right-stripped of '\n'; then "\n" + post_prompt, which starts with "\n".
  EXPECT_EQ(mmb.prompt(q),
            "A pet photo. What animal is shown? There are several options:\nA. dog\nB. cat\nC. bird\nD. fish\n\n"
            "Answer with the option's letter from the given choices directly.");
  q.extra["hint"] = "nan";  // its "no hint"; so is null or absent
  EXPECT_EQ(mmb.prompt(q).substr(0, 49), "What animal is shown? There are several options:\n");
  // An absent option ("" or "nan") is skipped; the letters keep their places.
  q.options = {"dog", "nan", "bird"};
  EXPECT_EQ(mmb.prompt(q).substr(0, 64), "What animal is shown? There are several options:\nA. dog\nC. bird\n");

  // The static path: can_infer_option, else can_infer_text, else extract_mcq_answer. The answer is B (cat).
  const TaskQuestion a = animal_question();
  const std::vector<std::tuple<std::string, std::string, double>> cases = {
      {"B", "B", 1},                       // a bare letter
      {"(B)", "B", 1},                     // ("(", ")")
      {"B. cat", "B", 1},                  // ("", ".")
      {"The answer is C", "C", 0},         // one bare letter "C"; "A" is no word
      {"b", "", 0},                        // lower-case: no letter, no option text, nothing for extract_mcq
      {"cat", "B", 1},                     // the option text only: can_infer_text
      {"A cat is sitting on the mat", "B", 1},  // "A" an article (7 words): text match "cat"
      {"A cat", "A", 0},                   // two words: the bare "A" is taken
      {"I don't know", "", 0},             // no letter, no option text, no A-D anywhere
      {"a cat or a dog", "", 0},           // two option texts: can_infer_text refuses; no A-D letter
      {"the answer is:C.", "C", 0},        // extract_mcq: ends with "C" after ':' (end 9)
  };
  for (const auto& [response, parsed, score] : cases) {
    const QuestionScore s = mmb.score(a, response);
    EXPECT_EQ(s.parsed, parsed) << response;
    EXPECT_EQ(s.score, score) << response;
  }
  EXPECT_EQ(mmb.score(a, "  B\n").fields["gpt_eval_score"]["prediction"], "B");  // its process_results strips
  TaskQuestion bad = animal_question("m9");
  bad.answers = {"F"};
  test::expect_error([&] { mmb.score(bad, "B"); }, {"mmbench_en", "m9", "'F'", "4 options"});
}

TEST(ScoreChoice, MmbenchCircularEval) {
  const TaskType& mmb = find_task("mmbench_en");
  // Main questions 5, 6, 7 (index < 1e6); variants 1000005, 2000005 of 5, 1000006 of 6; 1000008 without its main.
  std::vector<TaskQuestion> qs;
  for (int64_t index : {5, 1000005, 2000005, 6, 1000006, 7, 1000008}) {
    TaskQuestion q = animal_question("i" + std::to_string(index));
    q.extra["index"] = index;
    qs.push_back(q);
  }
  // 5 right, 1000005 right, 2000005 wrong -> 5's group fails; 6 and 1000006 right -> hit; 7 wrong -> miss;
  // 1000008 is not counted (eval_result iterates over index < 1e6 only). gpt_eval_score = 1/3 x 100.
  const auto m = run(mmb, qs, {"B", "B", "C", "B", "cat", "D", "B"});
  EXPECT_EQ(metric_names(m), (std::vector<std::string>{"gpt_eval_score"}));
  EXPECT_DOUBLE_EQ(metric(m, "gpt_eval_score"), 1.0 / 3.0 * 100);
  // Without an index (ids not integers), each question is its own: 2 right of 3 -> 66.67.
  const auto n = run(mmb, {animal_question("x"), animal_question("y"), animal_question("z")}, {"B", "A", "cat"});
  EXPECT_DOUBLE_EQ(metric(n, "gpt_eval_score"), 2.0 / 3.0 * 100);
}

TEST(ScoreChoice, SeedbenchFirstCharacter) {
  const TaskType& seed = find_task("seedbench");
  TaskQuestion q = question("s1", "What is in the image?", "B");
  q.options = {"a cat", "a dog", "a bird", "a car"};
  // seed_doc_to_text: question, "\nA. ..\nB. ..\nC. ..\nD. ..", "\nAnswer with the option's letter ...".
  EXPECT_EQ(seed.prompt(q), "What is in the image?\nA. a cat\nB. a dog\nC. a bird\nD. a car\n"
                            "Answer with the option's letter from the given choices directly.");
  // seed_process_result: strip; longer than one character -> its first; then compared lower-cased.
  const std::vector<std::tuple<std::string, std::string, double>> cases = {
      {"B", "B", 1},                // "B"
      {"(B)", "(", 0},              // first character "("
      {"B. a dog", "B", 1},         // "B"
      {"The answer is B", "T", 0},  // "T"
      {"b", "b", 1},                // "b" == "b" lower-cased
      {"a dog", "a", 0},            // the option text: first character "a"
      {"  B\n", "B", 1},            // stripped first
      {"", "", 0},                  // nothing
  };
  for (const auto& [response, parsed, score] : cases) {
    const QuestionScore s = seed.score(q, response);
    EXPECT_EQ(s.parsed, parsed) << response;
    EXPECT_EQ(s.score, score) << response;
  }
  EXPECT_TRUE(seed.score(q, "B").fields.contains("seed_image"));
  // seed_aggregation_result per metric: correct / count. Images right, wrong, right; one video wrong:
  // seed_image 2/3, seed_video 0/1, seed_all 2/4.
  TaskQuestion v = q;
  v.extra["data_type"] = "video";
  const auto m = run(seed, {q, q, q, v}, {"B", "C", "b", "A"});
  EXPECT_EQ(metric_names(m), (std::vector<std::string>{"seed_image", "seed_video", "seed_all"}));
  EXPECT_DOUBLE_EQ(metric(m, "seed_image"), 2.0 / 3.0);
  EXPECT_EQ(metric(m, "seed_video"), 0.0);
  EXPECT_DOUBLE_EQ(metric(m, "seed_all"), 0.5);
  q.options.pop_back();
  test::expect_error([&] { seed.prompt(q); }, {"seedbench", "s1", "3 options"});
}

TEST(ScoreChoice, ScienceqaLetterOrLetterDot) {
  const TaskType& sqa = find_task("scienceqa_img");
  EXPECT_EQ(sqa.max_new_tokens, 16);  // scienceqa_img.yaml
  TaskQuestion q = question("s1", "Which organism is a producer?", "B");
  q.options = {"grass", "rabbit", "fox"};
  q.extra["hint"] = "The diagram shows a food web.";
  // sqa_doc_to_text, format default: "Context: {hint}\n" when the hint is not empty, question, "\n",
  // "A. grass\nB. rabbit\nC. fox", post_prompt.
  EXPECT_EQ(sqa.prompt(q), "Context: The diagram shows a food web.\nWhich organism is a producer?\n"
                           "A. grass\nB. rabbit\nC. fox\nAnswer with the option's letter from the given choices directly.");
  q.extra["hint"] = "";
  EXPECT_EQ(sqa.prompt(q), "Which organism is a producer?\nA. grass\nB. rabbit\nC. fox\n"
                          "Answer with the option's letter from the given choices directly.");
  // sqa_process_results, target "b": pred.lower() == "b" -> 1; else pred[0] upper and pred[1] == '.' ->
  // pred[0].lower() == "b"; else 0.
  const std::vector<std::tuple<std::string, std::string, double>> cases = {
      {"B", "B", 1},                // "b" == "b"
      {"(B)", "", 0},               // "(" is not upper-case
      {"B. rabbit", "B", 1},        // 'B' then '.'
      {"The answer is B", "", 0},   // 'T' then 'h'
      {"b", "B", 1},                // lower-cased equal
      {"b. rabbit", "", 0},         // 'b' is not upper-case
      {"rabbit", "", 0},            // the option text only
      {"C.", "C", 0},               // 'C' then '.', but not the answer
      {" B.\n", "B", 1},            // stripped: 'B' then '.'
  };
  for (const auto& [response, parsed, score] : cases) {
    const QuestionScore s = sqa.score(q, response);
    EXPECT_EQ(s.parsed, parsed) << response;
    EXPECT_EQ(s.score, score) << response;
    EXPECT_EQ(s.fields["exact_match"], score) << response;
  }
  // exact_match: the mean (0..1): right, wrong, right, right -> 0.75.
  const auto m = run(sqa, {q, q, q, q}, {"B", "A", "B. rabbit", "b"});
  EXPECT_EQ(metric_names(m), (std::vector<std::string>{"exact_match"}));
  EXPECT_DOUBLE_EQ(metric(m, "exact_match"), 0.75);
}

}  // namespace
}  // namespace laco
