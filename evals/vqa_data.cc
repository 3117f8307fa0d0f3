#include "evals/vqa_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <torch/torch.h>

#include "evals/vqa_vocabulary.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/limits.h"
#include "harness/base/text.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

// A PNG ends with its IEND chunk and a JPEG with its end-of-image marker: a
// file cut short (a copy interrupted, a download stopped) is found from its
// last bytes, without decoding it. Other formats are left to the decoder.
void check_complete(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {0};
  in.read(head, sizeof head);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<int64_t>(in.tellg());
  const int64_t n = std::min<int64_t>(size, 64);
  std::string tail(static_cast<size_t>(n), '\0');
  in.seekg(size - n);
  in.read(tail.data(), n);
  const bool png = std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0;
  const bool jpeg = static_cast<unsigned char>(head[0]) == 0xff && static_cast<unsigned char>(head[1]) == 0xd8;
  if (png && (tail.size() < 8 || tail.compare(tail.size() - 8, 4, "IEND") != 0))
    fail("{}: a PNG cut short: it does not end with its IEND chunk ({} bytes; allowed: a whole image)", path, size);
  if (jpeg && tail.find("\xff\xd9") == std::string::npos)
    fail("{}: a JPEG cut short: no end-of-image marker in its last bytes ({} bytes; allowed: a whole image)", path, size);
}

}  // namespace

VqaImageSize check_vqa_image(const std::string& path) {
  check_regular_file(path);
  int w = 0, h = 0, channels = 0;
  if (!stbi_info(path.c_str(), &w, &h, &channels))
    fail("{}: cannot read image ({})", path, stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  // From the header, before anything is decoded: a grayscale bomb is refused as an RGB one is.
  check_input_limit(InputLimit::kImagePixels, fmt::format("{}: image of {} x {}", path, w, h),
                    static_cast<uint64_t>(w) * static_cast<uint64_t>(h));
  check_complete(path);
  return {w, h};
}

std::string vqa_data_identity(const std::string& path) {
  return path + "\n" + file_sha256(path);
}

RgbImage read_vqa_image(const std::string& path) {
  check_vqa_image(path);
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!data) fail("{}: cannot read image ({})", path, stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(data, data + static_cast<size_t>(w) * h * 3);
  stbi_image_free(data);
  return img;
}

void write_png(const std::string& path, const RgbImage& img) {
  const auto w = static_cast<int>(img.width), h = static_cast<int>(img.height);
  if (!stbi_write_png(path.c_str(), w, h, 3, img.pixels.data(), w * 3)) fail("{}: cannot write PNG", path);
}

std::string export_vqa(const std::vector<VqaSample>& samples, const std::string& dir, const std::string& name) {
  fs::create_directories(fs::path(dir) / "images");
  const std::string jsonl = (fs::path(dir) / (name + ".jsonl")).string();
  std::string lines;
  for (const auto& s : samples) {
      const std::string rel = "images/" + s.id + ".png";
      write_png((fs::path(dir) / rel).string(), s.image);
      nlohmann::json line = {{"id", s.id},
                             {"image", rel},
                             {"family", s.family},
                             {"conversations",
                              {{{"from", "human"}, {"value", "<image>\n" + s.question}},
                               {{"from", "gpt"}, {"value", s.answer}}}}};
      lines += line.dump() + "\n";
  }
  write_file_atomically(jsonl, lines);  // the images first, the index that names them last
  return jsonl;
}

namespace {

// Parses one line; returns the problem or "" (and fills `out`).
std::string parse_line(const std::string& text, const fs::path& base, bool read_images, VqaSample& out) {
  nlohmann::json j;
  const std::string problem = parse_json(text, j);
  if (!problem.empty()) return fmt::format("not valid JSON ({})", problem);
  if (!j.is_object()) return "must be a JSON object";
  if (!j.contains("image") || !j["image"].is_string()) return "field 'image' (a path string) is missing";
  if (!j.contains("conversations") || !j["conversations"].is_array()) return "field 'conversations' (an array) is missing";
  const auto& conv = j["conversations"];
  if (conv.size() != 2) return fmt::format("'conversations' must hold one human turn and one gpt turn, has {}", conv.size());
  for (size_t i = 0; i < 2; ++i) {
    const char* who = i == 0 ? "human" : "gpt";
    if (!conv[i].is_object() || conv[i].value("from", "") != who || !conv[i].contains("value") ||
        !conv[i]["value"].is_string())
      return fmt::format("conversations[{}] must be {{\"from\": \"{}\", \"value\": \"...\"}}", i, who);
  }
  std::string question = conv[0]["value"];
  const std::string tag = "<image>";
  if (auto pos = question.find(tag); pos != std::string::npos) question.erase(pos, tag.size());
  const auto first = question.find_first_not_of(" \t\r\n"), last = question.find_last_not_of(" \t\r\n");
  question = first == std::string::npos ? std::string() : question.substr(first, last - first + 1);
  // An answer is one class however many words it has; whether the train data
  // has it is the vocabulary's business (a test answer it lacks is scored wrong).
  const std::string answer = VqaVocabulary::normalize_answer(conv[1]["value"].get<std::string>());
  if (answer.empty()) return "the gpt turn's answer is empty (allowed: one or more words)";
  if (answer == "<pad>" || answer == "<unk>")
    return fmt::format("answer '{}' is reserved (allowed: any other words)", answer);
  // Images live in the data folder: a path that leaves it (absolute, or
  // climbing out with ..) would let a downloaded JSONL read any file this user
  // can. A symbolic link inside the folder is the explicit way to use images
  // kept elsewhere (README: bring your own data).
  const fs::path rel = fs::path(j["image"].get<std::string>());
  const fs::path norm = rel.lexically_normal();
  if (rel.empty() || rel.is_absolute() || rel.has_root_name() || rel.has_root_directory() ||
      (!norm.empty() && *norm.begin() == ".."))
    return fmt::format("image '{}' leaves the data folder {} (allowed: a relative path inside it; link images kept "
                       "elsewhere into it)",
                       rel.string(), base.empty() ? std::string(".") : base.string());
  const fs::path image = base / norm;
  if (!fs::exists(image)) return fmt::format("image '{}' does not exist", image.string());
  // Read, or without read_images its header checked (a file that is not an
  // image, or one over the pixel limit, is found before any run is claimed).
  try {
    if (read_images) out.image = read_vqa_image(image.string());
    else check_vqa_image(image.string());
  } catch (const Error& e) {
    return e.what();
  }
  out.id = j.value("id", "");
  out.family = j.contains("family") && j["family"].is_string() ? j["family"].get<std::string>() : "";
  out.question = question;
  out.answer = answer;
  return "";
}

}  // namespace

namespace {

// The next line of `in` (without its newline) into `line`; false at the end.
// An Error naming the file and line when one is longer than the line limit:
// a line is never read whole before it is checked.
}  // namespace

std::vector<VqaSample> load_vqa(const std::string& path, bool read_images) {
  check_regular_file(path);
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  const fs::path base = fs::path(path).parent_path();
  std::vector<VqaSample> samples;
  LineProblems problems(path);
  std::string line;
  for (int64_t number = 1; read_bounded_line(in, line, path, number); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    VqaSample s;
    const std::string problem = parse_line(line, base, read_images, s);
    if (problem.empty()) samples.push_back(std::move(s));
    else problems.add(number, problem);
  }
  problems.throw_if_any("nothing was trained");
  if (samples.empty()) fail("{}: holds no samples", path);
  return samples;
}

torch::Tensor images_to_tensor(const std::vector<const RgbImage*>& images, int64_t size) {
  std::vector<torch::Tensor> out;
  out.reserve(images.size());
  for (const auto* img : images) {
    auto t = torch::from_blob(const_cast<uint8_t*>(img->pixels.data()), {img->height, img->width, 3}, torch::kUInt8)
                 .permute({2, 0, 1})
                 .to(torch::kFloat32)
                 .div(127.5)
                 .sub(1.0)
                 .unsqueeze(0);
    if (img->height != size || img->width != size)
      t = torch::nn::functional::interpolate(t, torch::nn::functional::InterpolateFuncOptions()
                                                    .size(std::vector<int64_t>{size, size})
                                                    .mode(torch::kBilinear)
                                                    .align_corners(false));
    out.push_back(t);
  }
  return torch::cat(out, 0).unsqueeze(1);
}

}  // namespace laco
