#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "evals/accuracy.h"
#include "evals/registry.h"
#include "evals/synthvqa.h"
#include "evals/vqa_data.h"
#include "evals/vqa_vocabulary.h"
#include "harness/base/build_info.h"
#include "harness/base/progress.h"
#include "harness/base/safetensors.h"
#include "harness/base/sha256.h"
#include "methods/registry.h"
#include "tests/test_util.h"

namespace laco {
namespace {

TEST(SynthVqa, GeneratorIsDeterministic) {
  const SynthVqaOptions o;
  for (int64_t i : {0, 1, 2, 3, 4, 57}) {
    const auto a = generate_vqa_sample(o, 7, "train", i), b = generate_vqa_sample(o, 7, "train", i);
    EXPECT_EQ(a.question, b.question);
    EXPECT_EQ(a.answer, b.answer);
    EXPECT_EQ(a.image.pixels, b.image.pixels);
  }
  // Other seeds and other splits are other streams.
  int same_seed = 0, same_split = 0;
  for (int64_t i = 0; i < 20; ++i) {
    const auto a = generate_vqa_sample(o, 7, "train", i);
    same_seed += a.image.pixels == generate_vqa_sample(o, 8, "train", i).image.pixels;
    same_split += a.image.pixels == generate_vqa_sample(o, 7, "test", i).image.pixels;
  }
  EXPECT_EQ(same_seed, 0);
  EXPECT_EQ(same_split, 0);
  test::expect_error([&] { generate_vqa_sample(o, 7, "dev", 0); }, {"unknown split 'dev'", "train, val, test"});
}

TEST(SynthVqa, EveryFamilysAnswersAreBalanced) {
  // 120 samples a family: a whole number of rounds for 6, 4, 5, 2 and 8 answers.
  const auto samples = generate_vqa_split(SynthVqaOptions(), 3, "train", 5 * 120);
  std::map<std::string, std::map<std::string, int>> counts;
  for (const auto& s : samples) ++counts[s.family][s.answer];
  ASSERT_EQ(counts.size(), 5u);
  for (const auto& family : vqa_families()) {
    const auto& answers = vqa_answers(family);
    ASSERT_EQ(counts[family].size(), answers.size()) << family;
    for (const auto& a : answers) EXPECT_EQ(counts[family][a], 120 / static_cast<int>(answers.size())) << family << " " << a;
  }
}

TEST(SynthVqa, QuestionsAndAnswersAreInTheVocabulary) {
  const auto& vocab = VqaVocabulary::synthvqa();
  // Every stage-0 cache and run trained on this version's SynthVQA used these words in this order
  // (the 4-way spatial family before it also had "left" and "right").
  const std::vector<std::string> words = {
      "<pad>", "<unk>", "what", "color", "is", "the", "large", "shape", "?", "object", "how", "many", "shapes",
      "are", "there", "where", "small", "relative", "to", "letter", "written", "red", "green", "blue", "yellow",
      "magenta", "cyan", "circle", "square", "triangle", "cross", "0", "1", "2", "3", "4", "above", "below",
      "a", "b", "c", "d", "e", "f", "g", "h"};
  EXPECT_EQ(vocab.words(), words);
  EXPECT_EQ(vocab.answers().size(), 25u);
  EXPECT_EQ(accuracy_model(find_accuracy_preset("tiny"), vocab).lm.vocab(), 46);
  EXPECT_EQ(find_accuracy_preset("tiny").model.lm.vocab(), 46) << "the preset's model is SynthVQA's";
  for (const auto& s : generate_vqa_split(SynthVqaOptions(), 1, "test", 200)) {
    for (const auto& w : VqaVocabulary::tokenize(s.question)) EXPECT_TRUE(vocab.contains(w)) << s.question;
    EXPECT_TRUE(vocab.contains(s.answer));
    EXPECT_EQ(s.image.width, 48);
    EXPECT_EQ(s.image.pixels.size(), 48u * 48u * 3u);
  }
  const auto ids = vocab.encode("What color is the large shape?", 8);
  EXPECT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids[0], vocab.pad());
  EXPECT_EQ(vocab.word(ids[7]), "?");
  EXPECT_EQ(vocab.word(ids[1]), "what");
  EXPECT_EQ(vocab.encode("what is xyzzy ?", 4)[2], vocab.unk());
}

TEST(VqaData, ExportRoundTripsThroughTheLoader) {
  const auto dir = test::temp_dir("vqa_export");
  const auto samples = generate_vqa_split(SynthVqaOptions(), 5, "val", 10);
  const auto path = export_vqa(samples, dir, "val");
  const auto loaded = load_vqa(path);
  ASSERT_EQ(loaded.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(loaded[i].id, samples[i].id);
    EXPECT_EQ(loaded[i].family, samples[i].family);
    EXPECT_EQ(loaded[i].question, samples[i].question) << "the <image> tag and the line break are removed";
    EXPECT_EQ(loaded[i].answer, samples[i].answer);
    EXPECT_EQ(loaded[i].image.pixels, samples[i].image.pixels) << "PNG is lossless";
  }
  std::filesystem::remove_all(dir);
}

TEST(VqaData, ProblemsAreReportedWithFileAndLineBeforeTraining) {
  const auto dir = test::temp_dir("vqa_bad");
  const auto good = generate_vqa_split(SynthVqaOptions(), 5, "val", 1);
  export_vqa(good, dir, "good");
  std::ifstream in(dir + "/good.jsonl");
  std::string valid;
  std::getline(in, valid);
  {
    std::ofstream out(dir + "/bad.jsonl");
    out << valid << "\n"
        << "{not json\n"
        << R"({"image": "images/missing.png", "conversations": [{"from": "human", "value": "<image>\nwhat color is the large shape ?"}, {"from": "gpt", "value": "red"}]})"
        << "\n"
        << R"({"image": "images/val-000000.png", "conversations": [{"from": "human", "value": "<image>\nwhat color is the large shape ?"}, {"from": "gpt", "value": " . "}]})"
        << "\n"
        << R"({"image": "images/val-000000.png"})" << "\n";
  }
  const std::string bad = dir + "/bad.jsonl";
  // Issue 12, defect 8: image paths leaving the data folder were read without a word.
  {
    std::ofstream out(dir + "/outside.jsonl");
    for (const char* path : {"../good/images/val-000000.png", "/etc/passwd", "images/../../x.png"})
      out << R"({"image": ")" << path
          << R"(", "conversations": [{"from": "human", "value": "<image>\nwhat color is the large shape ?"}, {"from": "gpt", "value": "red"}]})"
          << "\n";
  }
  test::expect_error([&] { load_vqa(dir + "/outside.jsonl"); },
                     {"3 problem(s)", ":1: image '../good/images/val-000000.png' leaves the data folder " + dir,
                      "allowed: a relative path inside it; link images kept elsewhere into it", ":2: image '/etc/passwd'",
                      ":3: image 'images/../../x.png' leaves"});
  test::expect_error([&] { load_vqa(bad); },
                     {"4 problem(s)", "nothing was trained", bad + ":2: not valid JSON", bad + ":3: image",
                      "does not exist", bad + ":4: the gpt turn's answer is empty", bad + ":5: field 'conversations'"});
  AccuracyConfig c;
  c.preset = "tiny";
  c.test_data = bad;
  test::expect_error([&] { run_accuracy(resolve_accuracy_config(c), {nullptr, dir + "/cache"}); }, {bad + ":2"});
  EXPECT_FALSE(std::filesystem::exists(dir + "/cache")) << "no training started";
  std::filesystem::remove_all(dir);
}

AccuracyConfig tiny_config() {
  AccuracyConfig c;
  c.preset = "tiny";
  c.method = "laco";
  c.layer = "1/2";
  return c;
}

AccuracyConfig tiny_config(int64_t steps0, int64_t steps1, int64_t steps2) {
  auto c = tiny_config();
  c.steps0 = steps0;
  c.steps1 = steps1;
  c.steps2 = steps2;
  return c;
}

// Resolves and runs one configuration with its stage-0 cache in `cache_dir`.
RunRecord run(const AccuracyConfig& c, const std::string& cache_dir) {
  return run_accuracy(resolve_accuracy_config(c), {nullptr, cache_dir});
}

std::string cache_path(const AccuracyConfig& c, const std::string& cache_dir) {
  return stage0_cache_path(resolve_accuracy_config(c), cache_dir);
}

// Issue 13: the ETA. An accuracy run was 4 units (stage 0, 1, 2, evaluation),
// so a 25-minute stage 0 showed "?" for its whole length and then a wildly
// wrong estimate. Now a unit is a training step, a cached stage 0 counts as
// done at once without speeding up the rate, and the count ends at the total.
TEST(Accuracy, ProgressCountsTrainingStepsAndSkipsACachedStage0) {
  const auto dir = test::temp_dir("acc_progress");
  const auto c = tiny_config(6, 2, 3);
  const RunSpec spec = resolve_accuracy_config(c);
  EXPECT_EQ(accuracy_units(spec), 6 + 2 + 3 + 1);
  for (const bool cached : {false, true}) {
    Progress progress("accuracy", accuracy_units(spec));
    progress.set_enabled(false);
    run_accuracy(spec, {&progress, dir + "/cache"});
    EXPECT_EQ(progress.done(), progress.total()) << (cached ? "stage 0 from the cache" : "stage 0 trained");
  }
  Progress p("x", 10);
  p.set_enabled(false);
  p.advance(6, "found done");
  EXPECT_NE(p.line("").find("x 6/10"), std::string::npos) << p.line("");
  EXPECT_NE(p.line("").find("eta ?"), std::string::npos) << "no unit took time yet: no rate to extrapolate";
}

TEST(Accuracy, ARunReportsEveryFamilyAndItsCurves) {
  const auto dir = test::temp_dir("acc_run");
  auto c = tiny_config();
  c.steps0 = 20;
  const auto record = run(c, dir);
  for (const auto& f : vqa_families()) {
    const auto v = record.value("acc_" + f);
    ASSERT_TRUE(v.has_value()) << f;
    EXPECT_GE(*v, 0.0);
    EXPECT_LE(*v, 100.0);
  }
  EXPECT_EQ(record.spec.block_k, 1);
  EXPECT_EQ(record.spec.grid_out, "2x2");
  EXPECT_EQ(record.require("visual_tokens"), 4);
  EXPECT_FALSE(record.series.at("loss_stage0").empty());
  EXPECT_FALSE(record.series.at("val_acc_stage0_color").empty());
  EXPECT_FALSE(record.series.at("loss_stage2").empty());
  // Issue 40: stage 0's curves are saved with its weights, so a run that
  // finds it cached (the first run's commit lost to a kill, say) has them too.
  const auto cached = run(c, dir);
  EXPECT_TRUE(cached.facts["stage0_cached"].get<bool>());
  EXPECT_EQ(cached.series.at("loss_stage0"), record.series.at("loss_stage0"));
  EXPECT_EQ(cached.series.at("val_acc_stage0_color"), record.series.at("val_acc_stage0_color"));
  std::filesystem::remove_all(dir);
}

// The whole tiny protocol at its preset budget: colour (chance 1/6) must be
// learnt. 50 test questions: guessing reaches 50% with probability ~1e-8.
TEST(Accuracy, ATinyRunLearnsColour) {
  const auto dir = test::temp_dir("acc_learns");
  AccuracyConfig c = tiny_config();
  c.method = "none";
  c.layer = "1";
  const auto record = run(c, dir);
  EXPECT_GE(record.require("acc_color"), 50.0) << to_json(record).dump(1);
  std::filesystem::remove_all(dir);
}

TEST(Accuracy, CurriculumIntroducesTheFamiliesCoarseToFine) {
  // 1000 steps, half of them to introduce 5 families: one more every 100 steps.
  EXPECT_EQ(curriculum_families(0, 1000, 0.5), 1);
  EXPECT_EQ(curriculum_families(99, 1000, 0.5), 1);
  EXPECT_EQ(curriculum_families(100, 1000, 0.5), 2);
  EXPECT_EQ(curriculum_families(450, 1000, 0.5), 5);
  EXPECT_EQ(curriculum_families(999, 1000, 0.5), 5);
  EXPECT_EQ(curriculum_families(0, 1000, 0.0), 5) << "no curriculum: every family from the start";
  EXPECT_EQ(vqa_families().front(), "color");
}

TEST(Accuracy, TrainDrawKeepsTheFamiliesInTheMixsProportions) {
  const auto& preset = find_accuracy_preset("tiny");
  const VqaBatches data(preset, 0, "train", 2000);
  auto shares = [&](TrainDraw& draw, int64_t allowed) {
    std::map<std::string, int64_t> n;
    for (int step = 0; step < 200; ++step)
      for (int64_t i : draw.next(32, allowed)) ++n[data.family(i)];
    return n;
  };
  // Weights 1 : 2 : 1 : 1 : 4 of 9: 6400 draws hold 711, 1422, 711, 711, 2844
  // expected (binomial sd 26-38, bounds at 5 sd).
  TrainDraw weighted(data, 7, {1, 2, 1, 1, 4});
  auto n = shares(weighted, 5);
  const std::vector<double> expected = {711, 1422, 711, 711, 2844};
  for (size_t f = 0; f < expected.size(); ++f)
    EXPECT_NEAR(static_cast<double>(n[vqa_families()[f]]), expected[f], 5 * std::sqrt(expected[f])) << vqa_families()[f];
  // The curriculum still decides which families may be drawn.
  TrainDraw early(data, 7, {1, 2, 1, 1, 4});
  n = shares(early, 2);
  EXPECT_EQ(n.size(), 2u);
  EXPECT_NEAR(static_cast<double>(n["shape"]) / static_cast<double>(n["color"]), 2.0, 0.2);
  // No mix: the draw is the shuffled order itself, as before the mix existed (one in five each).
  TrainDraw plain(data, 7), again(data, 7);
  EXPECT_EQ(plain.next(32, 5), again.next(32, 5)) << "deterministic for a seed";
  n = shares(plain, 5);
  for (const auto& f : vqa_families()) EXPECT_NEAR(static_cast<double>(n[f]), 6400 / 5.0, 5 * 36) << f;
  // A weight that would never draw a family, or the wrong count, is refused.
  test::expect_error([&] { TrainDraw(data, 7, {1, 0, 1, 1, 1}); }, {"family mix weight 0", "a finite number > 0"});
  test::expect_error([&] { TrainDraw(data, 7, {1, 1}); }, {"has 2 weights", "allowed: 5, one per family"});
}

TEST(Accuracy, AnswersAreScoredAmongTheirFamilysCandidates) {
  const auto& preset = find_accuracy_preset("tiny");
  const VqaBatches data(preset, 0, "train", 10);
  const auto b = data.batch({0, 1, 2, 3, 4});
  const auto& vocab = VqaVocabulary::synthvqa();
  for (int64_t i = 0; i < 5; ++i) {
    const auto& answers = vqa_answers(b.families[static_cast<size_t>(i)]);
    EXPECT_EQ(b.candidates[i].sum().item<int64_t>(), static_cast<int64_t>(answers.size())) << b.families[i];
    for (const auto& a : answers) EXPECT_TRUE(b.candidates[i][vocab.answer_id(a)].item<bool>()) << a;
    EXPECT_TRUE(b.candidates[i][b.answers[i]].item<bool>());
  }
  // User data without a family is scored among every answer word.
  auto s = data.sample(0);
  s.family = "";
  const VqaBatches user(preset, std::vector<VqaSample>{s}, vocab);
  int64_t all = 0;
  for (const auto& f : vqa_families()) all += static_cast<int64_t>(vqa_answers(f).size());
  EXPECT_EQ(user.batch({0}).candidates[0].sum().item<int64_t>(), all);
}

// Open vocabulary: user data brings its own words. A small real-looking set,
// none of whose answers is a SynthVQA word: digits drawn into 32 x 32 PNGs
// in one of two inks, asked about in two families ("digit": two, four,
// seven, nine; "ink": the multi-word answers "light red" and "light green").
struct DigitSample {
  std::string family, question, answer;
};

const std::map<std::string, std::array<uint8_t, 5>>& digit_glyphs() {  // 3 x 5, rows top to bottom
  static const std::map<std::string, std::array<uint8_t, 5>> glyphs = {
      {"two", {0b111, 0b001, 0b111, 0b100, 0b111}},   {"four", {0b101, 0b101, 0b111, 0b001, 0b001}},
      {"seven", {0b111, 0b001, 0b010, 0b010, 0b010}}, {"nine", {0b111, 0b101, 0b111, 0b001, 0b111}},
      {"eight", {0b111, 0b101, 0b111, 0b101, 0b111}}};
  return glyphs;
}

// Writes DIR/NAME.jsonl in the LLaVA layout with DIR/images/NAME-i.png:
// `count` samples cycling through the families, digit and ink drawn from `digits` and the two inks.
std::string write_digits(const std::string& dir, const std::string& name, int count, uint64_t seed,
                         const std::vector<std::string>& digits) {
  std::filesystem::create_directories(dir + "/images");
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::pair<std::string, std::array<int, 3>>> inks = {{"light red", {245, 120, 120}},
                                                                        {"light green", {120, 245, 120}}};
  std::string lines;
  for (int i = 0; i < count; ++i) {
    const std::string digit = digits[static_cast<size_t>(uniform(0, static_cast<int>(digits.size()) - 1))];
    const auto& ink = inks[static_cast<size_t>(uniform(0, 1))];
    RgbImage img;
    img.width = img.height = 32;
    img.pixels.resize(32 * 32 * 3);
    for (auto& p : img.pixels) p = static_cast<uint8_t>(uniform(30, 60));
    // Large and centred, as in a digit data set, give or take a pixel.
    const int scale = 6, x0 = uniform(6, 8), y0 = 1;
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (digit_glyphs().at(digit)[static_cast<size_t>(row)] & (4 >> col))
          for (int sy = 0; sy < scale; ++sy)
            for (int sx = 0; sx < scale; ++sx)
              for (int c = 0; c < 3; ++c)
                img.pixels[static_cast<size_t>(((y0 + row * scale + sy) * 32 + x0 + col * scale + sx) * 3 + c)] =
                    static_cast<uint8_t>(ink.second[static_cast<size_t>(c)]);
    const std::string id = fmt::format("{}-{:04d}", name, i), rel = "images/" + id + ".png";
    write_png(dir + "/" + rel, img);
    const bool ink_question = i % 2 == 1;
    // The ink's answers as a person might type them: capitals, a full stop, two spaces.
    const std::string answer = ink_question ? (ink.first == "light red" ? "Light  red." : "light green") : digit;
    const nlohmann::json line = {
        {"id", id},
        {"image", rel},
        {"family", ink_question ? "ink" : "digit"},
        {"conversations",
         {{{"from", "human"},
           {"value", std::string("<image>\n") + (ink_question ? "what colour is the ink ?" : "which digit is drawn ?")}},
          {{"from", "gpt"}, {"value", answer}}}}};
    lines += line.dump() + "\n";
  }
  const std::string path = dir + "/" + name + ".jsonl";
  test::write_file(path, lines);
  return path;
}

const std::vector<std::string> kTrainDigits = {"two", "four", "seven", "nine"};

TEST(VqaVocabulary, IsBuiltFromTheTrainDataWithMultiWordAnswersAsOneClass) {
  const auto dir = test::temp_dir("vocab_data");
  const auto train = load_vqa(write_digits(dir, "train", 40, 1, kTrainDigits));
  int light_red = 0;
  for (const auto& s : train)
    if (s.family == "ink") {
      EXPECT_TRUE(s.answer == "light red" || s.answer == "light green") << "'Light  red.' is normalised: " << s.answer;
      light_red += s.answer == "light red";
    }
  EXPECT_GT(light_red, 0);
  const auto vocab = VqaVocabulary::from_samples(train);
  // <pad>, <unk>, the question words in order of first use, then the answers.
  const std::vector<std::string> first = {"<pad>", "<unk>", "which", "digit", "is", "drawn", "?",
                                          "what", "colour", "the", "ink"};
  ASSERT_GE(vocab.words().size(), first.size() + 6);
  EXPECT_EQ(std::vector<std::string>(vocab.words().begin(), vocab.words().begin() + 11), first);
  EXPECT_EQ(vocab.size(), 11 + 6) << "four digits and two inks";
  EXPECT_EQ(vocab.answers().size(), 6u);
  for (const char* a : {"two", "four", "seven", "nine", "light red", "light green"}) EXPECT_GE(vocab.answer_id(a), 2) << a;
  EXPECT_TRUE(vocab.contains("light red")) << "one class, not the words light and red";
  EXPECT_FALSE(vocab.contains("light"));
  EXPECT_EQ(vocab.answer_id("Light Red ."), vocab.answer_id("light red")) << "answers are normalised the same way";
  EXPECT_EQ(vocab.answer_id("eight"), -1);
  EXPECT_EQ(vocab.answer_id("ink"), -1) << "a question word is not an answer";
  EXPECT_EQ(vocab.answer_id("red"), -1);
  // A family's candidates are its train answers; no family or another: every answer.
  auto words_of = [&](const std::vector<int64_t>& ids) {
    std::set<std::string> out;
    for (int64_t id : ids) out.insert(vocab.word(id));
    return out;
  };
  EXPECT_EQ(words_of(vocab.candidates("digit")), (std::set<std::string>{"two", "four", "seven", "nine"}));
  EXPECT_EQ(words_of(vocab.candidates("ink")), (std::set<std::string>{"light red", "light green"}));
  EXPECT_EQ(vocab.candidates(""), vocab.answers());
  EXPECT_EQ(vocab.candidates("vehicle"), vocab.answers());
  EXPECT_EQ(vocab.encode("which word is drawn ?", 5)[1], vocab.unk()) << "words unseen in train read as <unk>";
  // The same text through train_vocabulary (its images unread) is the same vocabulary.
  EXPECT_EQ(train_vocabulary(dir + "/train.jsonl").to_json(), vocab.to_json());
  EXPECT_EQ(&train_vocabulary("synthvqa"), &VqaVocabulary::synthvqa());
  std::filesystem::remove_all(dir);
}

TEST(Accuracy, UserDataIsScoredAmongItsFamilysTrainAnswersAndUnseenAnswersCountWrong) {
  const auto dir = test::temp_dir("vocab_scoring");
  const auto& preset = find_accuracy_preset("tiny");
  const auto vocab = VqaVocabulary::from_samples(load_vqa(write_digits(dir, "train", 40, 1, kTrainDigits)));
  auto test = load_vqa(write_digits(dir, "test", 12, 2, {"eight", "two"}));
  test[0].question = "which number is drawn ?";  // "number": no train question has it
  test[3].family = "";
  const VqaBatches data(preset, test, vocab);
  std::vector<int64_t> all(12);
  std::iota(all.begin(), all.end(), 0);
  const auto b = data.batch(all);
  int64_t unanswerable = 0;
  for (int64_t i = 0; i < 12; ++i) {
    const auto& s = test[static_cast<size_t>(i)];
    const auto expected = s.family.empty() ? vocab.answers() : vocab.candidates(s.family);
    EXPECT_EQ(b.candidates[i].sum().item<int64_t>(), static_cast<int64_t>(expected.size())) << s.family;
    for (int64_t a : expected) EXPECT_TRUE(b.candidates[i][a].item<bool>());
    EXPECT_EQ(b.answers[i].item<int64_t>(), s.answer == "eight" ? -1 : vocab.answer_id(s.answer)) << s.answer;
    unanswerable += s.answer == "eight";
  }
  ASSERT_GT(unanswerable, 0) << "the split must hold an answer the train data lacks";
  EXPECT_EQ(b.candidates.size(1), vocab.size());
  torch::manual_seed(0);
  Mllm model(accuracy_model(preset, vocab));
  std::vector<Prediction> predictions;
  VqaCoverage coverage;
  evaluate_vqa(model, data, 5, &predictions, &coverage);
  EXPECT_EQ(coverage.questions, 12);
  EXPECT_EQ(coverage.unanswerable, unanswerable);
  EXPECT_EQ(coverage.unanswerable_answers, (std::map<std::string, int64_t>{{"eight", unanswerable}}));
  EXPECT_EQ(coverage.unknown_words, 1);
  ASSERT_EQ(predictions.size(), 12u);
  for (const auto& p : predictions)
    if (p.answer == "eight") {
      EXPECT_FALSE(p.correct);
      EXPECT_NE(vocab.answer_id(p.predicted), -1) << "the model predicts one of the train answers";
    }
  std::filesystem::remove_all(dir);
}

// The whole tiny protocol on the digits: `none` must beat chance (digit 1/4,
// ink 1/2) by a wide margin on the test split, with its own vocabulary stored
// with the run and the stage-0 cache. Stage 0 runs the preset's 300 steps:
// after 150 (this test until issue 26) digits were learnt or not by the
// rounding of the CPU (59% on one machine, 30.3% on another, 57.6% with one
// thread); after 300 every run read digit 90.9% (all 60 answerable) and ink
// 100%, seeds 0-3 on 1 and 2 threads (`laco run --eval accuracy --preset tiny
// -m none -l 1 --steps1 10 --steps2 10 --train-data ... --test-data ...`,
// 2026-12-04); after 225, 90.9% at seed 0 on both.
TEST(Accuracy, LearnsUserDataWhoseAnswersAreNotSynthVqaWords) {
  const auto dir = test::temp_dir("vocab_learns");
  const auto train = write_digits(dir + "/data", "train", 800, 1, kTrainDigits);
  // 120 answerable test questions and 6 whose answer (eight) no train sample has.
  const auto test = write_digits(dir + "/data", "test", 120, 2, kTrainDigits);
  {
    const auto unseen = write_digits(dir + "/data", "unseen", 12, 3, {"eight"});
    std::string lines = test::read_file(test), extra = test::read_file(unseen);
    std::istringstream in(extra);
    for (std::string line; std::getline(in, line);)
      if (line.find("\"digit\"") != std::string::npos) lines += line + "\n";
    test::write_file(test, lines);
  }
  for (const auto& w : train_vocabulary(train).words())
    if (w != "?" && w != "is" && w != "the" && w != "what" && w != "<pad>" && w != "<unk>")
      EXPECT_FALSE(VqaVocabulary::synthvqa().contains(w)) << w << " is a SynthVQA word: the set must not be";
  AccuracyConfig c = tiny_config(-1, 10, 10);  // the preset's stage 0
  c.method = "none";
  c.layer = "1";
  c.train_data = train;
  c.test_data = test;
  const auto record = run(c, dir + "/cache");
  const double digit = record.require("acc_digit"), ink = record.require("acc_ink");
  // Chance: 25% (of the 60 answerable digit questions; 6 more cannot be
  // answered) and 50%. Guessing reaches 45% of the 66 with probability ~1e-4,
  // 80% of the 60 ~1e-6.
  EXPECT_GE(digit, 45.0) << to_json(record).dump(1);
  EXPECT_GE(ink, 80.0) << to_json(record).dump(1);
  EXPECT_EQ(record.facts.at("unanswerable_test_questions"), 6);
  EXPECT_EQ(record.facts.at("unanswerable_test_answers"), (nlohmann::json{{"eight", 6}}));
  EXPECT_EQ(record.facts.at("unknown_word_test_questions"), 0);
  int64_t eights = 0;
  for (const auto& p : record.predictions)
    if (p.answer == "eight") {
      ++eights;
      EXPECT_FALSE(p.correct);
    }
  EXPECT_EQ(eights, 6);
  EXPECT_EQ(record.predictions.size(), 126u);
  EXPECT_FALSE(record.series.count("val_acc_stage0_color")) << "SynthVQA's validation split is not this data's";
  // The vocabulary is stored with the run and with the stage-0 weights, and is in the cache key.
  const auto& vocab = train_vocabulary(train);
  EXPECT_EQ(record.facts.at("vocabulary").at("size"), vocab.size());
  EXPECT_EQ(record.facts.at("vocabulary").at("sha256"), vocab.sha256());
  EXPECT_EQ(record.facts.at("vocabulary").at("words"), nlohmann::json(vocab.words()));
  const auto file = SafeTensors::load(record.facts.at("stage0_cache").get<std::string>());
  EXPECT_EQ(nlohmann::json::parse(file.metadata().at("vocabulary")), vocab.to_json());
  const auto key = nlohmann::json::parse(file.metadata().at("stage0_key"));
  EXPECT_EQ(key.at("vocabulary"), (nlohmann::json{{"size", vocab.size()}, {"sha256", vocab.sha256()}}));
  EXPECT_EQ(key.at("model").at("lm").at(0), vocab.size()) << "the LM is sized to the data's vocabulary";
  EXPECT_EQ(file.get("lm.embed_tokens.weight").size(0), vocab.size());
  std::filesystem::remove_all(dir);
}

TEST(Accuracy, AnotherVocabularyIsAnotherStage0) {
  const auto dir = test::temp_dir("vocab_key");
  const auto a = write_digits(dir + "/a", "train", 20, 1, kTrainDigits);
  const auto b = write_digits(dir + "/b", "train", 20, 1, {"two", "four", "seven", "eight"});
  auto c = tiny_config(5, 1, 1);
  const std::string generated = cache_path(c, dir);
  c.train_data = a;
  const std::string path_a = cache_path(c, dir);
  const RunSpec spec_a = resolve_accuracy_config(c);
  c.train_data = b;
  const std::string path_b = cache_path(c, dir);
  EXPECT_NE(path_a, path_b);
  EXPECT_NE(path_a, generated);
  EXPECT_NE(train_vocabulary(a).sha256(), train_vocabulary(b).sha256());
  // Weights stored under a's name with another vocabulary in their key are never reused.
  c.train_data = a;
  EXPECT_FALSE(run(c, dir).facts["stage0_cached"].get<bool>());
  EXPECT_EQ(stage0_cache_problem(spec_a, dir), "");
  const auto file = SafeTensors::load(path_a);
  auto key = nlohmann::json::parse(file.metadata().at("stage0_key"));
  ASSERT_TRUE(key.contains("vocabulary"));
  key["vocabulary"]["sha256"] = train_vocabulary(b).sha256();
  NamedTensors tensors;
  for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name));
  save_safetensors(path_a, tensors, {{"stage0_key", key.dump()}});
  const std::string problem = stage0_cache_problem(spec_a, dir);
  EXPECT_NE(problem.find("vocabulary"), std::string::npos) << problem;
  EXPECT_FALSE(run(c, dir).facts["stage0_cached"].get<bool>());
  std::filesystem::remove_all(dir);
}

TEST(Accuracy, Stage0IsCachedAndInvalidatedWhenItsConfigurationChanges) {
  const auto dir = test::temp_dir("acc_cache");
  auto c = tiny_config(5, 1, 1);
  const auto first = run(c, dir);
  EXPECT_FALSE(first.facts["stage0_cached"].get<bool>());
  EXPECT_GT(first.require("stage0_time"), 0.0);
  const auto second = run(c, dir);
  EXPECT_TRUE(second.facts["stage0_cached"].get<bool>());
  EXPECT_EQ(second.require("stage0_time"), 0.0) << "the second run must not retrain stage 0";
  EXPECT_EQ(first.facts["stage0_cache"], second.facts["stage0_cache"]);
  // SynthVQA's vocabulary is fixed: its key is what it always was, without one.
  const auto stored = SafeTensors::load(first.facts["stage0_cache"].get<std::string>());
  EXPECT_FALSE(nlohmann::json::parse(stored.metadata().at("stage0_key")).contains("vocabulary"));
  EXPECT_EQ(first.facts["vocabulary"]["size"], 46);
  EXPECT_EQ(first.facts["vocabulary"]["words"], nlohmann::json(VqaVocabulary::synthvqa().words()));
  // The method and placement are not part of stage 0: still cached.
  auto other_method = c;
  other_method.method = "avgpool";
  EXPECT_TRUE(run(other_method, dir).facts["stage0_cached"].get<bool>());
  // Its own configuration is: another step count or seed retrains.
  auto more_steps = c;
  more_steps.steps0 = 6;
  EXPECT_NE(cache_path(more_steps, dir), cache_path(c, dir));
  EXPECT_FALSE(run(more_steps, dir).facts["stage0_cached"].get<bool>());
  auto other_seed = c;
  other_seed.seed = 1;
  EXPECT_NE(cache_path(other_seed, dir), cache_path(c, dir));
  // The cache file is named by SHA-256 (16 hex digits), as every stable key in laco.
  const std::string name = std::filesystem::path(cache_path(c, dir)).filename().string();
  EXPECT_EQ(name.size(), std::string("stage0-tiny-0123456789abcdef.safetensors").size()) << name;
  std::filesystem::remove_all(dir);
}

// Issue 14: the cache key was a hand-bumped version plus the configuration,
// so a change to the model, data or training code that forgot the bump
// silently reused weights trained by older code.
TEST(Accuracy, Stage0TrainedByOtherCodeIsTrainedAgainAndTheRunSaysWhy) {
  const auto dir = test::temp_dir("acc_cache_code");
  const auto c = tiny_config(5, 1, 1);
  const std::string path = cache_path(c, dir);
  EXPECT_EQ(stage0_cache_problem(resolve_accuracy_config(c), dir), "absent");
  EXPECT_FALSE(run(c, dir).facts["stage0_cached"].get<bool>());
  EXPECT_EQ(stage0_cache_problem(resolve_accuracy_config(c), dir), "");
  // The same file with another stored key: as written by other sources, or before the code was in the key.
  auto rewrite = [&](const std::function<void(nlohmann::json&)>& edit) {
    const auto file = SafeTensors::load(path);
    auto key = nlohmann::json::parse(file.metadata().at("stage0_key"));
    edit(key);
    NamedTensors tensors;
    for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name));
    save_safetensors(path, tensors, {{"stage0_key", key.dump()}});
  };
  rewrite([](nlohmann::json& k) { k["code"]["sources_sha256"] = "0123"; });
  const auto retrained = run(c, dir);
  EXPECT_FALSE(retrained.facts["stage0_cached"].get<bool>()) << "weights of other code are never reused";
  const std::string why = retrained.facts.value("stage0_retrained", std::string());
  for (const char* part : {"is not reused", "trained by other code", "sources_sha256 \"0123\"", "this build: \"",
                           "training it again"})
    EXPECT_NE(why.find(part), std::string::npos) << part << " in: " << why;
  // Trained again, the file carries this build's key: reused from then on.
  const auto again = run(c, dir);
  EXPECT_TRUE(again.facts["stage0_cached"].get<bool>());
  EXPECT_FALSE(again.facts.contains("stage0_retrained"));
  rewrite([](nlohmann::json& k) { k.erase("code"); });
  EXPECT_NE(stage0_cache_problem(resolve_accuracy_config(c), dir).find("written before the code was part"),
            std::string::npos);
  EXPECT_FALSE(run(c, dir).facts["stage0_cached"].get<bool>());
  std::filesystem::remove_all(dir);
}

// Issue 40: a cache file cut short (a full disk, a kill while another tool
// copied it) is trained again and replaced, not a failure of every run that needs it.
TEST(Accuracy, ATruncatedStage0CacheIsTrainedAgain) {
  const auto dir = test::temp_dir("acc_cache_truncated");
  const auto c = tiny_config(5, 1, 1);
  const std::string path = cache_path(c, dir);
  run(c, dir);
  const std::string bytes = test::read_file(path);
  test::write_file(path, bytes.substr(0, bytes.size() / 2));
  EXPECT_NE(stage0_cache_problem(resolve_accuracy_config(c), dir).find("it cannot be read"), std::string::npos);
  const auto retrained = run(c, dir);
  EXPECT_FALSE(retrained.facts["stage0_cached"].get<bool>());
  const std::string why = retrained.facts.value("stage0_retrained", std::string());
  EXPECT_NE(why.find("cannot be read"), std::string::npos) << why;
  EXPECT_EQ(stage0_cache_problem(resolve_accuracy_config(c), dir), "") << "replaced by a whole file";
  EXPECT_TRUE(run(c, dir).facts["stage0_cached"].get<bool>());
  std::filesystem::remove_all(dir);
}

TEST(Accuracy, RunsSharingAStage0ExpectAllButTheFirstToFindItDone) {
  const auto dir = test::temp_dir("acc_expected");
  const auto c = tiny_config(5, 1, 1);
  auto other_method = c, other_seed = c;
  other_method.method = "avgpool";
  other_seed.seed = 1;
  const std::vector<RunSpec> runs = {resolve_accuracy_config(c), resolve_accuracy_config(other_method),
                                     resolve_accuracy_config(other_seed)};
  // Nothing cached: seed 0's stage 0 is trained by the first run and found by the second; seed 1 trains its own.
  EXPECT_EQ(expected_advances(runs, dir), 5);
  run(c, dir);
  EXPECT_EQ(expected_advances(runs, dir), 10) << "seed 0's stage 0 is cached now";
  // The progress of a cached run: its stage 0 advanced, the rest worked, ending at the total.
  Progress progress("accuracy", accuracy_units(runs[1]));
  progress.set_enabled(false);
  progress.expect_advances(expected_advances({runs[1]}, dir));
  run_accuracy(runs[1], {&progress, dir});
  EXPECT_EQ(progress.done(), progress.total());
  std::filesystem::remove_all(dir);
}

// With stage0_seed, every seed inserts its method into one pretrained model
// and scores the same test questions; the seed varies the method's
// initialisation and batch order. Without it (and in every stored run) each
// seed trains its own stage 0 on its own data.
TEST(Accuracy, SeedsCanShareOneStage0Model) {
  const auto dir = test::temp_dir("acc_shared_stage0");
  auto c0 = tiny_config(5, 2, 2), c1 = c0;
  c1.seed = 1;
  EXPECT_NE(cache_path(c0, dir), cache_path(c1, dir));
  EXPECT_FALSE(to_json(resolve_accuracy_config(c0)).contains("stage0_seed")) << "the keys of per-seed runs are kept";
  c0.stage0_seed = 0;
  c1.stage0_seed = 0;
  const RunSpec s0 = resolve_accuracy_config(c0), s1 = resolve_accuracy_config(c1);
  EXPECT_EQ(cache_path(c0, dir), cache_path(c1, dir));
  EXPECT_EQ(s0.accuracy().stage0_key, s1.accuracy().stage0_key);
  EXPECT_NE(s0.key(), s1.key());
  EXPECT_EQ(run_spec_from_json("accuracy", to_json(s1), "again"), s1);
  EXPECT_EQ(accuracy_data_seed(s1), 0u);
  const auto r0 = run_accuracy(s0, {nullptr, dir});
  const auto r1 = run_accuracy(s1, {nullptr, dir});
  EXPECT_FALSE(r0.facts["stage0_cached"].get<bool>());
  EXPECT_TRUE(r1.facts["stage0_cached"].get<bool>()) << "seed 1 reuses seed 0's stage 0";
  ASSERT_EQ(r0.predictions.size(), r1.predictions.size());
  for (size_t i = 0; i < r0.predictions.size(); ++i) EXPECT_EQ(r0.predictions[i].answer, r1.predictions[i].answer);
  bool differ = false;  // different method weights and batches: some prediction or loss differs
  for (size_t i = 0; i < r0.predictions.size(); ++i) differ |= r0.predictions[i].predicted != r1.predictions[i].predicted;
  differ |= r0.require("stage1_final_loss") != r1.require("stage1_final_loss");
  EXPECT_TRUE(differ);
  std::filesystem::remove_all(dir);
}

TEST(BuildInfo, TheStage0SourcesHashCoversTheirContentAsBuilt) {
  const auto sources = stage0_sources();
  for (const char* f : {"evals/vqa_training.cc", "evals/accuracy_presets.cc", "evals/synthvqa.cc",
                        "harness/model/encoder.cc", "harness/model/init.cc"})
    EXPECT_NE(std::find(sources.begin(), sources.end(), f), sources.end()) << f;
  // The protocol around stage 0 and the cache's handling do not decide its
  // weights: editing them (a message, the stage 1/2 orchestration) must not retrain cached stage 0s.
  for (const char* f : {"evals/accuracy.cc", "evals/accuracy.h", "evals/stage0.cc", "evals/stage0.h"})
    EXPECT_EQ(std::find(sources.begin(), sources.end(), f), sources.end()) << f;
  // Recomputed here from the files as they are (the build stamps it at every build).
  std::string listing;
  for (const auto& f : sources) listing += f + "\n" + sha256_hex(test::read_file(std::string(LACO_SOURCE_DIR) + "/" + f)) + "\n";
  EXPECT_EQ(stage0_sources_sha256(), sha256_hex(listing));
  EXPECT_EQ(stage0_sources_sha256().size(), 64u);
}

TEST(Accuracy, FrozenParametersDoNotChangeInStage1) {
  torch::manual_seed(40);
  const auto& preset = find_accuracy_preset("tiny");
  Mllm model(preset.model);
  model->encoder->set_compressor(
      make_compressor("laco", CompressorOptions(preset.model.encoder.width()).ratio(2).block(1)), 1);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->named_parameters()) before[p.key()] = p.value().clone();
  const auto trainable = set_stage(model, 1);
  const VqaBatches data(preset, 0, "train", 64);
  train_vqa(model, trainable, data, 3, 1e-2, 8, 1, 0);
  int frozen = 0, trained = 0;
  for (const auto& p : model->named_parameters()) {
    const bool should_train = p.key().rfind("projector.", 0) == 0 || p.key().find(".compressor.") != std::string::npos;
    if (should_train) {
      ++trained;
      EXPECT_FALSE(torch::equal(before[p.key()], p.value())) << p.key() << " should have trained";
    } else {
      ++frozen;
      EXPECT_TRUE(torch::equal(before[p.key()], p.value())) << p.key() << " changed in stage 1";
    }
  }
  EXPECT_GT(frozen, 10);
  EXPECT_GT(trained, 4);
  EXPECT_EQ(set_stage(model, 2).size(), model->parameters().size());
}

TEST(Accuracy, BadConfigurationIsRefusedBeforeTraining) {
  AccuracyConfig c;
  c.preset = "huge";
  test::expect_error([&] { resolve_accuracy_config(c); }, {"--preset", "'huge'", "tiny, small, base"});
  c.preset = "tiny";
  c.layer = "block:9";
  test::expect_error([&] { resolve_accuracy_config(c); }, {"--layer", "block:1 .. block:2"});
  c.layer = "1/4";
  c.test_data = "/nonexistent/test.jsonl";
  test::expect_error([&] { resolve_accuracy_config(c); }, {"/nonexistent/test.jsonl", "no such file"});
}

}  // namespace
}  // namespace laco
