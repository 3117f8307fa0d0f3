// Issue 42, a released model's chat: the qwen_1_5 prompt, the chat template
// check, the folder's tokenizer, LLaVA-OneVision's anyres packing (worked by
// hand from transformers' pack_image_features and the processor's count) and
// greedy decoding that stops at <|im_end|>.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "evals/chat.h"
#include "harness/base/files.h"
#include "harness/base/safetensors.h"
#include "harness/image/image.h"
#include "harness/image/llava_processor.h"
#include "harness/model/anyres.h"
#include "harness/model/checkpoint.h"
#include "harness/model/mllm.h"
#include "harness/model/presets.h"
#include "harness/text/chat.h"
#include "tests/float32_close.h"
#include "tests/test_util.h"

namespace laco {
namespace {

using nlohmann::json;

TEST(ChatPrompt, IsQwen15AsLmmsEvalSendsIt) {
  EXPECT_EQ(chat_prompt("What is it?", kChatDefaultSystem),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nWhat is "
            "it?<|im_end|>\n<|im_start|>assistant\n");
  // An empty system drops the system turn (LLaVA's CHATML style); no image, no <image> line.
  EXPECT_EQ(chat_prompt("Hi", "", false), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chat_prompt("Hi", "Be brief."),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n<image>\nHi<|im_end|>\n<|im_start|>assistant\n");
}

// llava-hf's LLaVA-OneVision processor template (ChatML), and two that are not.
const std::string kChatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{% for content in message['content'] | "
    "selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{% for content in message['content'] | "
    "selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}{{'<|im_end|>\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
const std::string kLlama2 =
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + message['content'] + "
    "' [/INST]' }}{% else %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}";
const std::string kVicuna = "{% for m in messages %}{{ m['role'].upper() + ': ' + m['content'] + '\n' }}{% endfor %}ASSISTANT:";

TEST(ChatTemplate, ChatMlIsAcceptedInEitherFile) {
  const auto dir = test::temp_dir("chat_template_ok");
  test::write_file(dir + "/chat_template.json", json{{"chat_template", kChatml}}.dump());
  auto c = check_chat_template(dir);
  EXPECT_EQ(c.file, dir + "/chat_template.json");
  EXPECT_EQ(c.field, "$.chat_template");
  const auto dir2 = test::temp_dir("chat_template_config");
  test::write_file(dir2 + "/tokenizer_config.json",
                   json{{"chat_template", json::array({json{{"name", "tool_use"}, {"template", kLlama2}},
                                                       json{{"name", "default"}, {"template", kChatml}}})}}
                       .dump());
  c = check_chat_template(dir2);
  EXPECT_EQ(c.field, "$.chat_template[1].template");
}

TEST(ChatTemplate, AnotherTemplateOrNoneIsAnError) {
  const auto dir = test::temp_dir("chat_template_llama");
  test::write_file(dir + "/chat_template.json", json{{"chat_template", kLlama2}}.dump());
  test::expect_error([&] { check_chat_template(dir); },
                     {dir + "/chat_template.json", "$.chat_template", "is not a ChatML template", "'<|im_start|>'",
                      "allowed: a ChatML template"});
  const auto dir2 = test::temp_dir("chat_template_vicuna");
  test::write_file(dir2 + "/tokenizer_config.json", json{{"chat_template", kVicuna}}.dump());
  test::expect_error([&] { check_chat_template(dir2); }, {"tokenizer_config.json", "is not a ChatML template"});
  const auto dir3 = test::temp_dir("chat_template_none");
  test::write_file(dir3 + "/tokenizer_config.json", json{{"model_max_length", 32768}}.dump());
  test::expect_error([&] { check_chat_template(dir3); }, {"tokenizer_config.json", "$.chat_template: missing"});
  const auto dir4 = test::temp_dir("chat_template_empty");
  test::expect_error([&] { check_chat_template(dir4); }, {"no chat template", "chat_template.json"});
}

TEST(ChatTokenizer, MissingFilesAndTokensAreNamed) {
  const auto dir = test::temp_dir("chat_tokenizer_missing");
  test::write_file(dir + "/chat_template.json", json{{"chat_template", kChatml}}.dump());
  test::expect_error([&] { load_chat_tokenizer(dir); }, {dir + "/tokenizer.json", "missing", "no tokenizer"});
  // The shared Qwen3 tokenizer has <|im_start|> and <|im_end|> but no <image>.
  const auto qwen = read_file_bytes(LACO_SHARED_TOKENIZERS_DIR "/qwen/tokenizer.json");
  test::write_file(dir + "/tokenizer.json", qwen);
  test::expect_error([&] { load_chat_tokenizer(dir); }, {"tokenizer.json", "$.added_tokens", "no added token '<image>'"});
}

// tile 4 x 4 tokens; transformers' unpad_image and the processor's
// _get_unpadded_features, worked by hand.
TEST(Anyres, ShapesAsTransformersComputesThem) {
  // 61 x 37 px in 1 x 2 tiles: grid 4 x 8, aspect 1.649 < 2, so columns are cut:
  // new width int(round(61 * 4 / 37, 7)) = 6, padding (8 - 6) // 2 = 1 each side.
  AnyresShape s = anyres_shape({4, 4}, {37, 61, 1, 2, 9});
  EXPECT_EQ(s.unpadded_h, 4);
  EXPECT_EQ(s.unpadded_w, 6);
  EXPECT_FALSE(s.reduced());
  EXPECT_EQ(anyres_tokens({4, 4}, {37, 61, 1, 2, 9}), 16 + 4 * (6 + 1));
  EXPECT_EQ(anyres_tokens({4, 4}, {37, 61, 1, 2, 9}, false), 16 + 4 * 6);
  // A tall image, 30 x 100 px (w x h), in 3 x 1 tiles: grid 12 x 4; aspect 0.3 < 1/3, so the width is the
  // cut side: new width int(round(30 * 12 / 100, 7)) = 3, padding (4 - 3) // 2 = 0: nothing is cut.
  s = anyres_shape({4, 4}, {100, 30, 3, 1, 9});
  EXPECT_EQ(s.unpadded_h, 12);
  EXPECT_EQ(s.unpadded_w, 4);
  // 140 x 140 px in 6 x 6 tiles: 24 x 24 = 576 tokens, sqrt(576 / (9 * 16)) = 2 > 1.1: 12 x 12.
  s = anyres_shape({4, 4}, {140, 140, 6, 6, 9});
  EXPECT_EQ(s.unpadded_h, 24);
  EXPECT_EQ(s.h, 12);
  EXPECT_EQ(s.w, 12);
  EXPECT_TRUE(s.reduced());
  EXPECT_EQ(anyres_tokens({4, 4}, {140, 140, 6, 6, 9}), 16 + 12 * 13);
  // Just over the 10% margin: 4 x 3 tiles of 4 x 4 on a 4:3 image, sqrt(192 / 144) = 1.155 > 1.1, reduced to
  // int(16 // 1.1547) = 13 by int(12 // 1.1547) = 10.
  s = anyres_shape({4, 4}, {96, 72, 4, 3, 9});
  EXPECT_EQ(s.unpadded_h, 16);
  EXPECT_EQ(s.unpadded_w, 12);
  EXPECT_EQ(s.h, 13);
  EXPECT_EQ(s.w, 10);
  // The real model's 27 x 27 tokens per 384 px tile; 2 x 2 tiles of a square image: 54 x 54 = 2916 tokens,
  // under 1.21 * 9 * 729, kept whole.
  s = anyres_shape({27, 27}, {800, 800, 2, 2, 9});
  EXPECT_FALSE(s.reduced());
  EXPECT_EQ(anyres_tokens({27, 27}, {800, 800, 2, 2, 9}), 729 + 54 * 55);
  test::expect_error([] { anyres_shape({4, 4}, {0, 10, 1, 1, 9}); }, {"anyres", "is not a layout"});
}

TEST(Anyres, PacksBaseThenRowsWithNewlines) {
  // Base crop tokens 0..3; tile (0, 0) 10..13 and tile (0, 1) 20..23, each a 2 x 2 grid row-major;
  // a 40 x 20 px image in 1 x 2 tiles keeps the 2 x 4 grid whole.
  auto crops = torch::tensor({0., 1., 2., 3., 10., 11., 12., 13., 20., 21., 22., 23.}).view({3, 4, 1});
  auto packed = pack_anyres(crops, {2, 2}, {20, 40, 1, 2, 9}, torch::tensor({99.}));
  const std::vector<float> want = {0, 1, 2, 3, 10, 11, 20, 21, 99, 12, 13, 22, 23, 99};
  ASSERT_EQ(packed.size(0), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(packed[static_cast<int64_t>(i)][0].item<float>(), want[i]) << i;
  EXPECT_EQ(packed.size(0), anyres_tokens({2, 2}, {20, 40, 1, 2, 9}));
  // No newline: 4 + 8 tokens.
  EXPECT_EQ(pack_anyres(crops, {2, 2}, {20, 40, 1, 2, 9}, torch::Tensor()).size(0), 12);
  // A wide image (40 x 8 px) in the same tiles: grid 2 x 4, aspect 5 > 2, rows cut: new height
  // int(round(8 * 4 / 40, 7)) = 0, padding (2 - 0) // 2 = 1 each side: transformers keeps no tile row.
  EXPECT_EQ(anyres_tokens({2, 2}, {8, 40, 1, 2, 9}, false), 4 + 0);
  test::expect_error([&] { pack_anyres(crops, {2, 2}, {20, 40, 2, 2, 9}, torch::Tensor()); }, {"not 1 + 2 x 2 crops"});
}

TEST(Generate, StopsAtTheStopIdAndKeepsIt) {
  torch::manual_seed(5);
  MllmOptions o;
  o.encoder = EncoderOptions().image_size(8).patch_size(4).width(16).depth(1).heads(2).mlp_dim(32);
  o.lm = LmOptions().vocab(40).width(16).layers(1).heads(2).kv_heads(1).mlp_dim(32);
  Mllm m(o);
  m->eval();
  torch::NoGradGuard no_grad;
  auto prompt = m->lm->embed(torch::tensor({{1, 2, 3}}, torch::kInt64));
  const auto free = m->generate_from(prompt, {}, 6, -1);
  ASSERT_EQ(free.ids.size(1), 6);
  // Stop at the third id: generation ends there, with it.
  const int64_t third = free.ids[0][2].item<int64_t>();
  int64_t first_at = 0;
  while (free.ids[0][first_at].item<int64_t>() != third) ++first_at;
  const auto stopped = m->generate_from(prompt, {}, 6, third);
  ASSERT_EQ(stopped.ids.size(1), first_at + 1);
  for (int64_t i = 0; i <= first_at; ++i) EXPECT_EQ(stopped.ids[0][i].item<int64_t>(), free.ids[0][i].item<int64_t>());
}

const std::string kChatReference = LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat.reference.safetensors";
using test::chat_checkpoint;
using test::kChatFixture;

std::vector<int64_t> ids_of(const torch::Tensor& t) {
  const auto c = t.to(torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// The reference: transformers' processor and LlavaOnevisionForConditionalGeneration
// in float64 (scripts/llava_chat_fixtures.py), four images: square, wide (2 x 3 tiles,
// columns unpadded), large (3 x 5 tiles, reduced by anyres_max_9), tall (3 x 1).
TEST(ChatParity, GenerateReproducesTransformersIdsAndImageTokens) {
  const std::string dir = chat_checkpoint();
  const SafeTensors ref = SafeTensors::load(kChatReference);
  const int64_t images = std::stoll(ref.metadata().at("images"));
  ASSERT_EQ(images, 4);
  RunRequest request;
  request.model = dir;
  request.method = "none";
  request.layer = "1";
  const ChatModel model = ChatModel::load(request);
  for (int64_t i = 0; i < images; ++i) {
    const std::string key = "image" + std::to_string(i);
    SCOPED_TRACE(key);
    const std::string image = LACO_SOURCE_DIR "/tests/checkpoints/" + ref.metadata().at(key + ".file");
    const std::string question = ref.metadata().at(key + ".question");
    EXPECT_EQ(chat_prompt(question, kChatDefaultSystem), ref.metadata().at(key + ".prompt"));
    const auto want_generated = ids_of(ref.get(key + ".generated_ids"));
    const ChatAnswer a = model.answer(image, question, static_cast<int64_t>(want_generated.size()));
    EXPECT_EQ(a.input_ids, ids_of(ref.get(key + ".input_ids")));
    EXPECT_EQ(a.visual_tokens, ref.get(key + ".image_features").size(0));
    EXPECT_EQ(a.generated_ids, want_generated);
    EXPECT_FALSE(a.stopped);
    const auto size = ids_of(ref.get(key + ".image_size"));
    EXPECT_EQ(a.image_height, size[0]);
    EXPECT_EQ(a.image_width, size[1]);
  }
}

// The pieces under the ids: pixels within 1/255 of Pillow's (in normalised units, / std), and the packed
// image features within float32's bound of the float64 reference's.
TEST(ChatParity, PixelsAndPackedFeaturesMatchTheReference) {
  const std::string dir = chat_checkpoint();
  const SafeTensors ref = SafeTensors::load(kChatReference);
  const ImageProcessorConfig processor = read_image_processor_config(dir);
  const CheckpointConfig config = read_checkpoint_config(dir);
  MllmOptions options = checkpoint_model(config, find_preset("cpu-small").model);
  options.image_newline = true;
  Mllm model(options);
  model->eval();
  load_checkpoint(config, *model);
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < 4; ++i) {
    const std::string key = "image" + std::to_string(i);
    SCOPED_TRACE(key);
    const auto p = process_image(read_image(LACO_SOURCE_DIR "/tests/checkpoints/" + ref.metadata().at(key + ".file")),
                                 processor);
    const auto want = ref.get(key + ".pixel_values");
    ASSERT_EQ(p.pixel_values.sizes(), want.sizes());
    EXPECT_LE((p.pixel_values - want).abs().max().item<double>(), 1.0 / 255 / 0.5 + 1e-6);
    const AnyresLayout layout{p.height, p.width, p.rows, p.cols, config.anyres_max_tiles};
    const auto features = model->image_features(want, layout);
    const auto want_features = ref.get(key + ".image_features");
    ASSERT_EQ(features.sizes(), want_features.sizes());
    // Depth: 3 SigLIP layers (attention over 16 tokens of 8 dims per head, MLP 64, width 32), the projector
    // (32 + 16), the bilinear reduction (4 terms).
    EXPECT_TRUE(test::float32_close(features, want_features, 3 * (32 + 16 + 8 + 64) + 48 + 4));
  }
}

TEST(ChatModel, RefusesWhatItCannotReadAndNamesIt) {
  namespace fs = std::filesystem;
  const std::string dir = chat_checkpoint();
  RunRequest request;
  request.model = dir;
  request.method = "none";
  request.layer = "1";
  // A corrupt image.
  const std::string bad = test::temp_dir("chat_bad_image") + "/bad.png";
  test::write_file(bad, "\x89PNG\r\n\x1a\nnot a png at all");
  const ChatModel model = ChatModel::load(request);
  test::expect_error([&] { model.answer(bad, "What?", 2); }, {"bad.png"});
  // A method that leaves no grid for the anyres packing.
  RunRequest tome = request;
  tome.method = "tome";
  tome.layer = "1/4";
  test::expect_error([&] { ChatModel::load(tome).answer(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png", "What?", 2); },
                     {"method 'tome'", "leaves no grid"});
  // No tokenizer.json; an unknown chat template; a tokenizer of another model.
  fs::remove(dir + "/tokenizer.json");
  test::expect_error([&] { ChatModel::load(request); }, {dir + "/tokenizer.json", "missing"});
  const std::string dir2 = chat_checkpoint();
  test::write_file(dir2 + "/chat_template.json", json{{"chat_template", kLlama2}}.dump());
  RunRequest r2 = request;
  r2.model = dir2;
  test::expect_error([&] { ChatModel::load(r2); }, {"chat_template.json", "is not a ChatML template"});
  const std::string dir3 = chat_checkpoint();
  json tok = json::parse(read_file_bytes(dir3 + "/tokenizer.json", InputLimit::kDataBytes));
  tok["model"]["type"] = "WordPiece";
  test::write_file(dir3 + "/tokenizer.json", tok.dump());
  RunRequest r3 = request;
  r3.model = dir3;
  test::expect_error([&] { ChatModel::load(r3); }, {"tokenizer.json", "model.type", "WordPiece", "allowed: BPE"});
  // A prompt longer than the context (config.json's max_position_embeddings).
  const std::string dir4 = chat_checkpoint();
  json cfg = json::parse(read_file_bytes(dir4 + "/config.json"));
  cfg["text_config"]["max_position_embeddings"] = 40;
  test::write_file(dir4 + "/config.json", cfg.dump());
  RunRequest r4 = request;
  r4.model = dir4;
  test::expect_error([&] { ChatModel::load(r4).answer(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png", "What?", 8); },
                     {"exceed the model's context of 40 positions", "max_position_embeddings"});
}

// The command line: `laco generate` prints the answer and its counts, -o json the ids (equal to the
// reference's); `laco tokenize` the ids; errors exit 1 with "laco: error:" and the file.
TEST(ChatCli, GenerateAndTokenizeFromTheCommandLine) {
  const std::string dir = chat_checkpoint();
  const SafeTensors ref = SafeTensors::load(kChatReference);
  const std::string image = LACO_SOURCE_DIR "/tests/checkpoints/" + ref.metadata().at("image1.file");
  const std::string base = std::string("OMP_WAIT_POLICY=PASSIVE ") + LACO_BIN + " generate --model " + dir + " --image " +
                           image + " --prompt '" + ref.metadata().at("image1.question") + "' --max-new-tokens 8";
  auto r = test::run_command(base + " -o json 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  const json j = json::parse(r.output);
  EXPECT_EQ(j.at("input_ids").get<std::vector<int64_t>>(), ids_of(ref.get("image1.input_ids")));
  EXPECT_EQ(j.at("generated_ids").get<std::vector<int64_t>>(), ids_of(ref.get("image1.generated_ids")));
  EXPECT_EQ(j.at("visual_tokens").get<int64_t>(), ref.get("image1.image_features").size(0));
  EXPECT_EQ(j.at("stopped").get<std::string>(), "max_new_tokens");
  r = test::run_command(base + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("image 61x30 px -> 7 crops (best resolution 72x48) -> 94 visual tokens"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("prompt 121 tokens | generated 8 (max-new-tokens reached)"), std::string::npos) << r.output;
  // The reference's prompt ids (Hugging Face's tokenizer) with the image's run folded back into one <image>.
  std::vector<int64_t> folded;
  for (int64_t id : ids_of(ref.get("image1.input_ids")))
    if (id != 151646 || folded.empty() || folded.back() != 151646) folded.push_back(id);
  r = test::run_command(std::string(LACO_BIN) + " tokenize --model " + dir + " --chat '" +
                        ref.metadata().at("image1.question") + "' 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json::parse(r.output).get<std::vector<int64_t>>(), folded);
  r = test::run_command(std::string(LACO_BIN) + " generate --model " + dir + " --image " + dir +
                        "/none.png --prompt hi 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("laco: error: " + dir + "/none.png"), std::string::npos) << r.output;
  r = test::run_command(base + " -o csv 2>&1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("allowed: text, json"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace laco
