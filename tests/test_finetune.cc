// Issue 44, fine-tuning a released model with a compressor inside: the tiny
// LLaVA-OneVision checkpoint with LaCo after block 2, on the conversations
// of tests/finetune (scripts/finetune_fixtures.py wrote them and the Python
// reference: LLaVA-NeXT's preprocess_qwen labels, the loss, three AdamW
// steps of transformers' Trainer, in float64). Labels match exactly; losses,
// gradient norms and parameters within bounds of ten times the drift the
// script measured between float32 and float64 on the same steps (its
// report: parameters 7.3e-6 for the compressor, 2.2e-6 elsewhere; losses
// 1.7e-6; gradient norms 3.8e-5; the embedding's sums 1.5e-5 / 3.5e-4 / 2.3e-5).
// Then the fine-tuned folder loads back with the same logits, answers, runs
// a benchmark; a fine-tune killed with SIGKILL resumes and ends at the
// parameters of one that was not.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "evals/chat.h"
#include "evals/finetune.h"
#include "evals/finetune_data.h"
#include "harness/base/safetensors.h"
#include "harness/model/adamw.h"
#include "harness/text/conversation.h"
#include "results/store.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kData = LACO_SOURCE_DIR "/tests/finetune/conversations.jsonl";
const std::string kReference = LACO_SOURCE_DIR "/tests/finetune/reference.safetensors";
const std::string kLacoInit = LACO_SOURCE_DIR "/tests/finetune/laco_init.safetensors";

// The reference's settings (its metadata says each): stage 2, laco after block 2, r = 2.
FinetuneConfig reference_config(const std::string& model, const std::string& out) {
  FinetuneConfig c;
  c.model = model;
  c.method = "laco";
  c.layer = "block:2";
  c.ratio = 2;
  c.data = kData;
  c.out = out;
  c.stage = 2;
  c.accumulation = 2;
  c.lr = 1e-3;
  c.projector_lr = 2e-3;
  c.compressor_lr = 5e-3;
  c.weight_decay = 0.1;
  c.warmup_ratio = 0.03;
  c.max_grad_norm = 1.0;
  c.max_length = 120;
  c.shuffle = "false";
  c.save_every = 0;
  c.threads = 1;
  return c;
}

// The compressor's starting weights: the reference's draw, not the C++ initialisation.
void load_reference_init(Finetuner& f) {
  const SafeTensors init = SafeTensors::load(kLacoInit);
  torch::NoGradGuard no_grad;
  const auto& c = f.model().encoder->compressor();
  ASSERT_TRUE(c);
  for (auto& item : c->named_parameters()) item.value().copy_(init.get(item.key()));
}

std::vector<int64_t> ids_of(const torch::Tensor& t) {
  auto c = t.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

double scalar(const SafeTensors& r, const std::string& name) { return r.get(name).item<double>(); }

TEST(Finetune, LabelsAreLlavaNextsPreprocessQwenAndTheImageExpansion) {
  const std::string dir = test::temp_dir("finetune_labels");
  const RunSpec spec = resolve_finetune_config(reference_config(test::chat_checkpoint(), dir + "/out"));
  EXPECT_EQ(spec.finetune().steps, 3);
  EXPECT_EQ(spec.finetune().conversations, 6);
  Finetuner f(spec);
  const SafeTensors ref = SafeTensors::load(kReference);
  const ChatFolder folder = read_chat_folder(spec.checkpoint);
  const ConversationFile data = load_conversations(kData, "");
  ASSERT_EQ(data.conversations.size(), 6u);
  int64_t truncated = 0;
  for (int64_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(data.conversations[i].id);
    const std::string p = fmt::format("conv{}.", i);
    const LabeledIds text = llava_qwen_labels(folder.text, data.conversations[i], kChatDefaultSystem, "test");
    const auto want_ids = ids_of(ref.get(p + "text_ids")), want_labels = ids_of(ref.get(p + "text_labels"));
    EXPECT_EQ(text.ids, want_ids);
    EXPECT_EQ(text.labels, want_labels);
    const FinetuneExample e = f.example(i);
    EXPECT_EQ(e.input_ids, ids_of(ref.get(p + "input_ids")));
    EXPECT_EQ(e.labels, ids_of(ref.get(p + "labels")));
    EXPECT_EQ(anyres_tokens(f.model().anyres_tile_grid(), e.layout, true), ref.get(p + "visual_tokens").item<int64_t>());
    truncated += e.truncated;
  }
  EXPECT_EQ(truncated, 1) << "max_length 120 cuts conversation 5 only";
  // A mask that cannot be right must fail: the system turn is never supervised but for its newline and markers.
  const LabeledIds l = llava_qwen_labels(folder.text, data.conversations[0], kChatDefaultSystem, "test");
  EXPECT_EQ(l.labels[0], folder.text.im_start);
  EXPECT_EQ(l.labels[1], kIgnoreLabel) << "'system' is masked";
}

TEST(Finetune, LossAndThreeOptimizerStepsMatchThePythonReference) {
  const std::string dir = test::temp_dir("finetune_reference");
  const RunSpec spec = resolve_finetune_config(reference_config(test::chat_checkpoint(), dir + "/out"));
  Finetuner f(spec);
  load_reference_init(f);
  const SafeTensors ref = SafeTensors::load(kReference);
  for (int64_t i = 0; i < 6; ++i) {
    const FinetuneExample e = f.example(i);
    torch::NoGradGuard no_grad;
    const auto features = f.model().image_features(e.crops, e.layout);
    // Relative to the features' scale (about 160): float32 through three SigLIP blocks, LaCo and the
    // projector against float64 (5.1e-6 of the scale at most, measured).
    const auto want = ref.get(fmt::format("conv{}.image_features0", i));
    EXPECT_LE((features.to(torch::kFloat64) - want).abs().max().item<double>(),
              2e-5 * want.abs().max().item<double>())
        << "conversation " << i << ": the image's packed features";
    EXPECT_NEAR(f.loss(e).item<double>(), scalar(ref, fmt::format("conv{}.loss0", i)), 1e-5) << "conversation " << i;
  }
  torch::Tensor embedding0 = f.model().lm->embed_tokens->weight.detach().to(torch::kFloat64).clone();
  for (int s = 0; s < 3; ++s) {
    const FinetuneStep st = f.train_step();
    const std::string p = fmt::format("step{}.", s);
    EXPECT_NEAR(st.loss, scalar(ref, p + "loss"), 1e-5) << p;
    EXPECT_NEAR(st.grad_norm, scalar(ref, p + "grad_norm"), 5e-4) << p;
    EXPECT_NEAR(st.lr_factor, scalar(ref, p + "lr_factor"), 1e-12) << p;
    EXPECT_EQ(st.conversations, 2);
  }
  EXPECT_EQ(f.step(), 3);

  // The parameters, read back from the saved folder under transformers' names.
  f.save(dir + "/out");
  const SafeTensors saved = SafeTensors::load(dir + "/out/model.safetensors");
  int64_t compared = 0;
  for (const auto& name : ref.names()) {
    if (name.rfind("after3.", 0) != 0 || name.find("embed_tokens") != std::string::npos) continue;
    const std::string stored = name.substr(7);
    SCOPED_TRACE(stored);
    ASSERT_TRUE(saved.contains(stored));
    const double bound = stored.rfind("laco_compressor.", 0) == 0 ? 1e-4 : 3e-5;
    EXPECT_LE((saved.get(stored).to(torch::kFloat64) - ref.get(name)).abs().max().item<double>(), bound);
    ++compared;
  }
  EXPECT_EQ(compared, 1 + 6 + 4 + 12 * 2 + 1)
      << "image_newline, the compressor, the projector, 2 layers x 12 (Qwen2's q/k/v have biases), the final norm";
  // The tied embedding: its rows the data holds, and sums over every row.
  const std::string e = "language_model.model.embed_tokens.weight";
  const auto after = saved.get(e).to(torch::kFloat64);
  const auto delta = after - embedding0;
  const auto rows = ref.get("after3." + e + ".rows");
  EXPECT_LE((after.index_select(0, rows) - ref.get("after3." + e + ".at_rows")).abs().max().item<double>(), 3e-5);
  const auto weights = torch::arange(1, delta.size(1) + 1, torch::kFloat64);
  EXPECT_LE(((delta * weights).sum(1) - ref.get("after3." + e + ".delta_row_checksum")).abs().max().item<double>(), 2e-4);
  EXPECT_LE((delta.sum(0) - ref.get("after3." + e + ".delta_col_sum")).abs().max().item<double>(), 5e-3);
  EXPECT_NEAR(delta.pow(2).sum().item<double>(), scalar(ref, "after3." + e + ".delta_sumsq"), 3e-4);
}

TEST(Finetune, TheSavedFolderLoadsBackWithTheSameLogitsAndAnswers) {
  const std::string dir = test::temp_dir("finetune_round_trip");
  const std::string model = test::chat_checkpoint();
  const RunSpec spec = resolve_finetune_config(reference_config(model, dir + "/out"));
  Finetuner f(spec);
  load_reference_init(f);
  while (f.step() < f.steps()) f.train_step();
  f.save(dir + "/out");
  const FinetuneExample e = f.example(3);
  const torch::Tensor trained = f.logits(e);

  RunRequest r;
  r.model = dir + "/out";
  r.method = "laco";  // placement and ratio come from the folder
  r.threads = 1;
  const ChatModel loaded = ChatModel::load(r);
  EXPECT_EQ(loaded.spec().block_k, 2);
  EXPECT_EQ(loaded.spec().ratio, 2);
  torch::NoGradGuard no_grad;
  auto ids = torch::tensor(e.input_ids, torch::kInt64).unsqueeze(0);
  MllmImpl& m = loaded.model();
  auto embeddings = m.lm->embed(ids);
  auto features = m.image_features(e.crops, e.layout).narrow(0, 0, e.image_tokens).unsqueeze(0);
  const int64_t after = e.image_start + e.image_tokens;
  embeddings = torch::cat({embeddings.narrow(1, 0, e.image_start), features,
                           embeddings.narrow(1, after, embeddings.size(1) - after)}, 1);
  const torch::Tensor reloaded = m.lm->logits(m.lm->forward(embeddings).select(0, 0));
  EXPECT_TRUE(torch::equal(trained, reloaded)) << "max difference " << (trained - reloaded).abs().max().item<double>();
  const ChatAnswer a = loaded.answer(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image2.png",
                                     "What is shown?", 4);
  EXPECT_GE(a.generated_ids.size(), 1u);
  EXPECT_EQ(loaded.facts().at("method_weights").get<std::string>().rfind("fine-tuned", 0), 0u);

  // Through the command line: `laco generate` and a benchmark run on the folder, no --allow-untrained needed.
  auto g = test::run_command(fmt::format("{} generate --model {}/out -m laco --image {} --prompt 'What is shown?' "
                                         "--max-new-tokens 3 -t 1",
                                         LACO_BIN, dir, LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png"));
  EXPECT_EQ(g.status, 0) << g.output;
  const std::string mme = test::mme_file(dir);
  auto b = test::run_command(fmt::format("OMP_WAIT_POLICY=PASSIVE {} run --eval benchmark --model {}/out --task mme "
                                         "--data {} -m laco --limit 2 --threads 1 --db {}/b.db",
                                         LACO_BIN, dir, mme, dir));
  EXPECT_EQ(b.status, 0) << b.output;
  // Another method on a folder fine-tuned with laco is refused, naming the folder's.
  r.method = "pixel_shuffle";
  test::expect_error([&] { ChatModel::resolve(r); }, {"holds a fine-tuned 'laco'", "-m laco"});
}

TEST(Finetune, AnUntrainedMethodIsRefusedUnlessAllowed) {
  RunRequest r;
  r.model = test::chat_checkpoint();
  r.method = "laco";
  r.layer = "block:2";
  r.threads = 1;
  test::expect_error([&] { ChatModel::resolve(r); }, {"must be trained", "fine-tune it first", "--allow-untrained"});
  r.allow_untrained = true;
  EXPECT_EQ(ChatModel::resolve(r).method, "laco");
  r.allow_untrained = false;
  r.method = "none";
  EXPECT_EQ(ChatModel::resolve(r).method, "none") << "a method without weights needs no fine-tune";
  auto g = test::run_command(fmt::format("{} run --eval benchmark --model {} --task mme --data {} -m laco -t 1", LACO_BIN,
                                         r.model, test::mme_file(test::temp_dir("finetune_refused"))));
  EXPECT_NE(g.status, 0);
  EXPECT_NE(g.output.find("fine-tune it first"), std::string::npos) << g.output;
}

TEST(Finetune, KilledFineTuneResumesAndEndsAtTheUninterruptedParameters) {
  const std::string dir = test::temp_dir("finetune_resume");
  const std::string model = test::chat_checkpoint();
  auto command = [&](const std::string& out, const std::string& db) {
    return fmt::format("OMP_WAIT_POLICY=PASSIVE {} train --model {} -m laco -l block:2 -r 2 --data {} --out {} "
                       "--stage 1 --accumulation 1 --lr 0.01 --max-length 120 --save-every 2 --threads 1 --db {}",
                       LACO_BIN, model, kData, out, db);
  };
  auto r = test::run_command(command(dir + "/whole", dir + "/whole.db"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string cmd = command(dir + "/killed", dir + "/r.db");
  // Six steps: killed after step 3 (checkpoint at 2), then after 3 more (steps 3-5, checkpoint at 4), then to the end.
  r = test::run_command("LACO_FAULT_KILL_AFTER_STEPS=3 " + cmd);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(test::read_file(dir + "/killed.resume/latest"), "step-2\n");
  EXPECT_FALSE(fs::exists(dir + "/killed/config.json")) << "nothing saved before the end";
  r = test::run_command("LACO_FAULT_KILL_AFTER_STEPS=3 " + cmd);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_EQ(test::read_file(dir + "/killed.resume/latest"), "step-4\n");
  r = test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir + "/killed.resume")) << "the resume state goes once the folder is saved";

  const SafeTensors whole = SafeTensors::load(dir + "/whole/model.safetensors");
  const SafeTensors killed = SafeTensors::load(dir + "/killed/model.safetensors");
  ASSERT_EQ(whole.names(), killed.names());
  for (const auto& name : whole.names())
    EXPECT_TRUE(torch::equal(whole.get(name), killed.get(name))) << name << ": the same kernels on the same shapes";
  ResultStore store(dir + "/r.db", false);
  EXPECT_EQ(std::get<int64_t>(store.db().scalar("SELECT count(*) FROM runs WHERE eval = 'finetune' AND status = 'done'")),
            1);
  EXPECT_EQ(std::get<int64_t>(store.db().scalar("SELECT count(*) FROM series WHERE name = 'loss'")), 6)
      << "the loss curve: every step once, across the three attempts";
  ResultStore once(dir + "/whole.db", false);
  EXPECT_EQ(std::get<double>(store.db().scalar("SELECT value FROM metrics WHERE name = 'final_loss'")),
            std::get<double>(once.db().scalar("SELECT value FROM metrics WHERE name = 'final_loss'")));
}

TEST(Finetune, ActivationCheckpointingChangesNothingButMemory) {
  const std::string dir = test::temp_dir("finetune_recompute");
  const std::string model = test::chat_checkpoint();
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> after;
  for (const std::string on : {"true", "false"}) {
    FinetuneConfig c = reference_config(model, dir + "/out");
    c.activation_checkpointing = on;
    c.steps = 2;
    Finetuner f(resolve_finetune_config(c));
    load_reference_init(f);
    f.train_step();
    f.train_step();
    after.push_back(f.trainable());
  }
  ASSERT_EQ(after[0].size(), after[1].size());
  for (size_t i = 0; i < after[0].size(); ++i)
    EXPECT_TRUE(torch::equal(after[0][i].second, after[1][i].second))
        << after[0][i].first << ": recomputation runs the same kernels on the same shapes";
}

TEST(Finetune, BadInputsAreRefusedBeforeAnythingTrains) {
  const std::string dir = test::temp_dir("finetune_bad");
  const std::string model = test::chat_checkpoint();
  const std::string image = LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png";
  test::write_file(dir + "/bad.jsonl",
                   fmt::format("{{\"id\": \"a\", \"image\": \"{0}\", \"conversations\": [{{\"from\": \"robot\", "
                               "\"value\": \"<image>\\nhi\"}}]}}\n"
                               "{{\"id\": \"b\", \"image\": \"missing.png\", \"conversations\": []}}\n"
                               "{{\"id\": \"c\", \"conversations\": [{{\"from\": \"human\", \"value\": \"hi\"}}]}}\n"
                               "not json\n",
                               image));
  FinetuneConfig c = reference_config(model, dir + "/out");
  c.data = dir + "/bad.jsonl";
  test::expect_error([&] { resolve_finetune_config(c); },
                     {"4 problem(s)", "bad.jsonl:1: conversations[0].from is 'robot' (allowed: human, gpt",
                      "bad.jsonl:2: image 'missing.png'", "bad.jsonl:3: missing field 'image'", "bad.jsonl:4: not valid JSON"});
  test::write_file(dir + "/two.jsonl",
                   fmt::format("{{\"id\": \"a\", \"image\": \"{}\", \"conversations\": [{{\"from\": \"human\", "
                               "\"value\": \"<image>\\n<image>\\nhi\"}}, {{\"from\": \"gpt\", \"value\": \"x\"}}]}}\n",
                               image));
  c.data = dir + "/two.jsonl";
  test::expect_error([&] { resolve_finetune_config(c); }, {"two.jsonl:1", "2 '<image>' placeholders", "exactly one"});
  c.data = kData;
  c.stage = 1;
  c.train_encoder = "after";
  test::expect_error([&] { resolve_finetune_config(c); }, {"--train-encoder", "stage 1"});
  c.train_encoder = "none";
  c.out = model;
  test::expect_error([&] { resolve_finetune_config(c); }, {"--out", "is the --model folder"});
  c.out = dir + "/out";
  // Two fine-tunes into one folder would overwrite each other.
  auto two = test::run_command(fmt::format("{} train --model {} -m laco,pixel_shuffle -l block:2 --data {} --out {}/out "
                                           "--stage 1 --accumulation 1 -t 1",
                                           LACO_BIN, model, kData, dir));
  EXPECT_NE(two.status, 0);
  EXPECT_NE(two.output.find("would both save to --out"), std::string::npos) << two.output;
  EXPECT_FALSE(fs::exists(dir + "/out")) << "refused before anything ran";
  c.method = "fastv";
  c.layer = "1";
  test::expect_error([&] { resolve_finetune_config(c); }, {"inside the LM", "not supported"});
}

TEST(Finetune, ScheduleAndOptimizerAreTransformersAndTorchs) {
  // get_cosine_schedule_with_warmup at 1 warm-up step of 3: 0, 1, cos(pi/2 * ...) = 0.5.
  EXPECT_EQ(warmup_steps(0.03, 3), 1);
  EXPECT_EQ(warmup_steps(0.03, 100), 3);
  EXPECT_DOUBLE_EQ(cosine_warmup_factor(0, 1, 3), 0.0);
  EXPECT_DOUBLE_EQ(cosine_warmup_factor(1, 1, 3), 1.0);
  EXPECT_NEAR(cosine_warmup_factor(2, 1, 3), 0.5, 1e-15);
  EXPECT_NEAR(cosine_warmup_factor(3, 3, 103), 1.0, 1e-15);
  EXPECT_NEAR(cosine_warmup_factor(53, 3, 103), 0.5, 1e-15);
  // One AdamW update by hand: bias-corrected, the step is lr * sign(g) (|m / sqrt(v)| = 1) after decay.
  auto p = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  AdamW opt({{"g", {p}, 0.1, 0.5}});
  p.mutable_grad() = torch::tensor({3.0, -4.0}, torch::kFloat64);
  opt.step(1.0);
  EXPECT_NEAR(p[0].item<double>(), 1.0 * (1 - 0.05) - 0.1 * 3.0 / (3.0 + 1e-8), 1e-12);
  EXPECT_NEAR(p[1].item<double>(), -2.0 * (1 - 0.05) + 0.1 * 4.0 / (4.0 + 1e-8), 1e-12);
  // The state round-trips, per-parameter step counters included.
  const SafeTensors state = SafeTensors::parse(serialize_safetensors(opt.state()), "state");
  AdamW again({{"g", {p}, 0.1, 0.5}});
  again.load_state(state, "state");
  EXPECT_EQ(again.steps(), 1);
  test::expect_error([&] { AdamW({{"g", {torch::zeros({3}).requires_grad_(true)}, 0.1, 0}}).load_state(state, "state"); },
                     {"state", "g.0.exp_avg"});
}

}  // namespace
}  // namespace laco
