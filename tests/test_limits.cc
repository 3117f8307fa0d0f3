// Issue 40: untrusted inputs are bounded before anything is allocated
// (harness/base/limits.h). Each reproducer of the fault campaign is built
// here: devices and FIFOs where a file is expected, files and lines over
// their limit, an image whose header asks for 400 M pixels, a spec of a
// million seeds; each ends in an error naming the input, the limit and how to
// raise it, with the child's peak RSS bounded and nothing written to the database.
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>

#include "evals/vqa_data.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/limits.h"
#include "harness/base/safetensors.h"
#include "harness/model/checkpoint.h"
#include "runner/sweep_spec.h"
#include "tests/sweep_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;
const std::string kLaco = LACO_BIN;

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// The largest peak RSS of the children this test process has waited for, in MB.
double children_peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// A PNG of width x height (8-bit grayscale) whose header is all there is: stb_image reads its size from it.
void write_png_header(const std::string& path, uint32_t width, uint32_t height) {
  std::string b = "\x89PNG\r\n\x1a\n";
  auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((v >> s) & 0xff));
  };
  be32(13);
  b += "IHDR";
  be32(width);
  be32(height);
  b += std::string("\x08\x00\x00\x00\x00", 5);  // 8 bits, grayscale, deflate, no filter, no interlace
  be32(0);                                      // CRC (not checked when only the header is read)
  test::write_file(path, b);
}

TEST(InputLimits, FilesReadWholeAreRegularFilesWithinTheirLimit) {
  test::expect_error([] { read_file_bytes("/dev/zero"); }, {"/dev/zero: is a device (allowed: a regular file)"});
  const std::string dir = test::temp_dir("limits_files");
  const std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::expect_error([&] { read_file_bytes(fifo); }, {fifo + ": is a FIFO (allowed: a regular file)"});

  const std::string file = dir + "/spec.json";
  test::write_file(file, std::string(200, ' '));
  EXPECT_EQ(read_file_bytes(file).size(), 200u);
  {
    ScopedEnv env("LACO_MAX_FILE_BYTES", "100");
    test::expect_error([&] { read_file_bytes(file); },
                       {file + ": 200 bytes is more than the limit of 100 bytes", "file bytes",
                        "raise it with LACO_MAX_FILE_BYTES=N"});
  }
  {
    ScopedEnv env("LACO_MAX_FILE_BYTES", "lots");
    test::expect_error([&] { read_file_bytes(file); }, {"LACO_MAX_FILE_BYTES=lots: not a positive integer"});
  }
  fs::remove_all(dir);
}

TEST(InputLimits, DevZeroAsASpecOrAParityCaseIsRefusedAtOnce) {
  auto r = test::run_command(kLaco + " sweep /dev/zero --dry-run");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/dev/zero: is a device (allowed: a regular file)"), std::string::npos) << r.output;
  r = test::run_command(kLaco + " parity /dev/zero");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/dev/zero: is a device (allowed: a regular file)"), std::string::npos) << r.output;
  EXPECT_LT(children_peak_rss_mb(), 500.0);
}

TEST(InputLimits, ASafetensorsHeaderOverItsLimitIsRefusedBeforeItIsParsed) {
  const std::string dir = test::temp_dir("limits_header");
  std::string bytes(8, '\0');
  const uint64_t len = uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) bytes[static_cast<size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
  test::write_file(dir + "/bomb.safetensors", bytes + "{}");
  test::expect_error([&] { SafeTensors::load(dir + "/bomb.safetensors"); },
                     {"header: 1099511627776 bytes is more than the limit", "LACO_MAX_HEADER_BYTES"});
  fs::remove_all(dir);
}

// 20000 x 20000 grayscale: under stb_image's own "too large" (it counts channels), over the pixel limit.
TEST(InputLimits, AnImageIsMeasuredFromItsHeaderWhateverItsChannels) {
  const std::string dir = test::temp_dir("limits_image");
  write_png_header(dir + "/bomb.png", 20000, 20000);
  test::expect_error([&] { check_vqa_image(dir + "/bomb.png"); },
                     {"bomb.png: image of 20000 x 20000: 400000000 pixels is more than the limit of", "image pixels",
                      "LACO_MAX_IMAGE_PIXELS"});
  test::expect_error([&] { read_vqa_image(dir + "/bomb.png"); }, {"400000000 pixels is more than the limit"});
  // A header alone, or a whole image cut short: found from its end, before anything is decoded.
  write_png_header(dir + "/header_only.png", 64, 48);
  test::expect_error([&] { check_vqa_image(dir + "/header_only.png"); }, {"header_only.png: a PNG cut short"});
  RgbImage image;
  image.width = 64;
  image.height = 48;
  image.pixels.assign(64 * 48 * 3, 128);
  write_png(dir + "/whole.png", image);
  const VqaImageSize size = check_vqa_image(dir + "/whole.png");
  EXPECT_EQ(size.width, 64);
  EXPECT_EQ(size.height, 48);
  const std::string bytes = test::read_file(dir + "/whole.png");
  test::write_file(dir + "/cut.png", bytes.substr(0, bytes.size() - 20));
  test::expect_error([&] { check_vqa_image(dir + "/cut.png"); }, {"cut.png: a PNG cut short"});
  test::write_file(dir + "/text.png", "not an image");
  test::expect_error([&] { check_vqa_image(dir + "/text.png"); }, {"text.png: cannot read image"});
  test::expect_error([&] { check_vqa_image(dir); }, {"is a folder (allowed: a regular file)"});
  fs::remove_all(dir);
}

// The campaign's reproducer: the bomb as train and test data of an accuracy
// run with --db. Found while resolving, before a run is claimed: no row at all.
TEST(InputLimits, AnImageBombInTheDataIsAnInputErrorNotAFailedRun) {
  const std::string dir = test::temp_dir("limits_bomb"), db = dir + "/laco.db";
  write_png_header(dir + "/bomb.png", 20000, 20000);
  const std::string jsonl = dir + "/bomb.jsonl";
  test::write_file(jsonl, R"({"id": "q1", "image": "bomb.png", "conversations": [{"from": "human", "value": )"
                          R"("<image>\nWhat colour?"}, {"from": "gpt", "value": "red"}]})"
                          "\n");
  const auto r = test::run_command(kLaco + " run --eval accuracy --preset tiny -m laco -l 1/4 --steps0 5 --steps1 1 "
                                           "--steps2 1 --train-data " + jsonl + " --test-data " + jsonl + " --db " + db +
                                           " --cache-dir " + dir + "/cache");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("400000000 pixels is more than the limit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("LACO_MAX_IMAGE_PIXELS"), std::string::npos) << r.output;
  if (fs::exists(db)) EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM runs"), std::vector<std::string>{"0"});
  EXPECT_LT(children_peak_rss_mb(), 500.0);
}

// Every image the campaign tried that cannot be decoded: an input error with
// the image's name, found before a run is claimed (no row, not a failed one).
TEST(InputLimits, AnImageThatCannotBeDecodedIsAnInputErrorNotAFailedRun) {
  const std::string dir = test::temp_dir("limits_images"), db = dir + "/laco.db";
  RgbImage image;
  image.width = 32;
  image.height = 32;
  image.pixels.assign(32 * 32 * 3, 200);
  write_png(dir + "/whole.png", image);
  const std::string whole = test::read_file(dir + "/whole.png");
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> kinds = {
      {"zero bytes", [](const std::string& p) { test::write_file(p, ""); }},
      {"text", [](const std::string& p) { test::write_file(p, "not an image at all\n"); }},
      {"truncated", [&](const std::string& p) { test::write_file(p, whole.substr(0, whole.size() / 2)); }},
      {"a folder", [](const std::string& p) { fs::create_directories(p); }},
      {"a link to /etc/passwd", [](const std::string& p) { fs::create_symlink("/etc/passwd", p); }},
      {"a header alone", [](const std::string& p) { write_png_header(p, 32, 32); }},
  };
  for (size_t i = 0; i < kinds.size(); ++i) {
    const std::string name = fmt::format("bad{}.png", i);
    kinds[i].second(dir + "/" + name);
    const std::string jsonl = dir + fmt::format("/bad{}.jsonl", i);
    test::write_file(jsonl, fmt::format(R"({{"id": "q1", "image": "{}", "conversations": [{{"from": "human", )"
                                        R"("value": "<image>\nWhat colour?"}}, {{"from": "gpt", "value": "red"}}]}})"
                                        "\n",
                                        name));
    const auto r = test::run_command(kLaco + " run --eval accuracy --preset tiny -m laco -l 1/4 --steps0 5 --steps1 1 "
                                             "--steps2 1 --train-data " + jsonl + " --test-data " + jsonl + " --db " +
                                     db + " --cache-dir " + dir + "/cache");
    EXPECT_EQ(r.status, 1) << kinds[i].first << ": " << r.output;
    EXPECT_NE(r.output.find(name), std::string::npos) << kinds[i].first << ": the error names the image: " << r.output;
    if (fs::exists(db))
      EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM runs"), std::vector<std::string>{"0"}) << kinds[i].first;
  }
  EXPECT_LT(children_peak_rss_mb(), 500.0);
  fs::remove_all(dir);
}

TEST(InputLimits, AJsonlLineIsBoundedBeforeItIsReadWhole) {
  const std::string dir = test::temp_dir("limits_line");
  test::write_file(dir + "/long.jsonl", std::string(5000, 'x') + "\n");
  ScopedEnv env("LACO_MAX_LINE_BYTES", "1000");
  test::expect_error([&] { load_vqa(dir + "/long.jsonl", false); },
                     {dir + "/long.jsonl:1: 1001 bytes is more than the limit of 1000 bytes", "LACO_MAX_LINE_BYTES"});
  fs::remove_all(dir);
}

// A million seeds: counted before a run is built (the campaign saw 60 s and 1.1 GB with --dry-run).
TEST(InputLimits, ASweepIsCountedBeforeItIsExpanded) {
  auto spec = test::tiny_spec("tiny", "efficiency");
  spec["efficiency"]["seeds"] = nlohmann::json::array();
  for (int s = 0; s < 1000000; ++s) spec["efficiency"]["seeds"].push_back(s);
  test::expect_error([&] { parse_sweep(spec, "big.json"); },
                     {"big.json: the spec's grids:", "runs is more than the limit of 100000 runs", "LACO_MAX_SWEEP_RUNS",
                      "laco sweep --max-runs N"});
  // The same through laco sweep --dry-run: refused, its 8 MB spec parsed in bounded memory.
  const std::string dir = test::temp_dir("limits_seeds");
  test::write_file(dir + "/big.json", spec.dump());
  const auto r = test::run_command(kLaco + " sweep " + dir + "/big.json --dry-run");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("000000 runs is more than the limit of 100000 runs"), std::string::npos) << r.output;
  EXPECT_LT(children_peak_rss_mb(), 500.0);
  fs::remove_all(dir);
  // --max-runs raises (or lowers) it for one sweep.
  auto small = test::tiny_spec("tiny", "efficiency");
  SweepOverrides o;
  o.max_runs = 1;
  test::expect_error([&] { parse_sweep(small, "small.json", o); }, {"more than --max-runs 1"});
  EXPECT_FALSE(parse_sweep(small, "small.json").runs.empty());
}

// A checkpoint's config.json is checked before anything is built: each
// shape within its range, then the whole model against the weight files
// beside it. The campaign's configs reached 3 GB (hidden_size 20000,
// num_hidden_layers 100000) or an allocator's refusal (1e9).
TEST(InputLimits, ACheckpointConfigIsCheckedBeforeTheModelIsBuilt) {
  const std::string dir = test::temp_dir("limits_checkpoint");
  const std::string source = std::string(LACO_SOURCE_DIR) + "/tests/checkpoints/siglip";
  auto with = [&](const std::string& field, const nlohmann::json& value) {
    const std::string folder = dir + "/" + field;
    fs::create_directories(folder);
    fs::copy(source, folder, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    auto config = nlohmann::json::parse(test::read_file(source + "/config.json"));
    config[field] = value;
    test::write_file(folder + "/config.json", config.dump(2));
    return folder;
  };
  for (const auto& [field, value, message] : std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
           {"hidden_size", 20000, "$.hidden_size: 20000 is too large (allowed: an integer in [1, 16384])"},
           {"num_hidden_layers", 100000, "$.num_hidden_layers: 100000 is too large (allowed: an integer in [1, 256])"},
           {"image_size", 1e9, "$.image_size"},
           {"intermediate_size", 1000000000, "$.intermediate_size"}}) {
    const std::string folder = with(field, value);
    test::expect_error([&] { read_checkpoint_config(folder); }, {folder + "/config.json", message});
  }
  // /dev/zero where config.json or the weights should be: refused by what it is, nothing read.
  for (const char* name : {"config.json", "model.safetensors"}) {
    const std::string folder = dir + "/zero_" + std::string(name);
    fs::create_directories(folder);
    fs::copy(source, folder, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    fs::remove(folder + "/" + name);
    fs::create_symlink("/dev/zero", folder + "/" + name);
    const auto r = test::run_command(kLaco + " run --eval efficiency --preset tiny --model " + folder +
                                     " -m laco -l 1/2 --stages encoder --reps 1 --warmup 0");
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find(name + std::string(": is a device (allowed: a regular file)")), std::string::npos)
        << r.output;
  }
  // In range, but not the model its 20 KB of weights hold: refused from the shapes, nothing allocated.
  const std::string big = with("hidden_size", 8192);
  test::expect_error([&] { read_checkpoint_config(big); },
                     {"config.json: its shapes make a model of", "even at 16 bits each, but its weight files hold"});
  const auto r = test::run_command(kLaco + " run --eval efficiency --preset tiny --model " + big +
                                   " -m laco -l 1/2 --stages encoder --reps 1 --warmup 0");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("its weight files hold"), std::string::npos) << r.output;
  EXPECT_LT(children_peak_rss_mb(), 500.0);
  fs::remove_all(dir);
}

// A disk that fills during a sweep (a file-size limit stands in for it: the
// database, its write-ahead log and the stage-0 cache cannot grow past 200
// KB): a clear exit 1, the database intact, and no run left `running`.
TEST(InputLimits, AFullDiskLeavesNoRunRunning) {
  const std::string dir = test::temp_dir("limits_full"), db = dir + "/laco.db";
  const std::string spec = std::string(LACO_SWEEPS_DIR) + "/smoke.json";
  const auto r = test::run_command("bash -c \"trap '' XFSZ; ulimit -f 200; exec " + kLaco + " sweep " + spec + " --db " +
                                   db + " --cache-dir " + dir + "/cache\"");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(r.output.find("File too large") != std::string::npos ||
              r.output.find("disk I/O error") != std::string::npos)
      << r.output;
  ASSERT_TRUE(fs::exists(db));
  EXPECT_EQ(test::query_rows(db, "PRAGMA quick_check"), std::vector<std::string>{"ok"});
  EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM runs WHERE status = 'running'"), std::vector<std::string>{"0"})
      << test::dump_runs(db, false);
  EXPECT_TRUE(test::query_rows(db, "SELECT DISTINCT m.run_key FROM metrics m JOIN runs r ON r.key = m.run_key "
                                   "WHERE r.status != 'done'")
                  .empty())
      << "no metrics of a run that is not done";
  // Merging it where the disk is full: a clear error and nothing left behind.
  const std::string out = dir + "/merged.db";
  const auto m = test::run_command("bash -c \"trap '' XFSZ; ulimit -f 40; exec " + kLaco + " merge " + out + " " + db + "\"");
  EXPECT_EQ(m.status, 1) << m.output;
  EXPECT_NE(m.output.find("cannot create the database"), std::string::npos) << m.output;
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().rfind("merged.db", 0), std::string::npos) << entry.path();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace laco
