// The layer rule (docs/architecture.md, Layout): a file includes only files of its own
// layer or of layers below it. Read from the #include lines of the tree, so a
// change that breaks the rule fails here, not in a review months later.
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

// Bottom to top; a folder's layer is the longest prefix that matches.
const std::vector<std::string> kLayers = {"harness/base", "harness/print", "harness/model", "methods", "evals",
                                          "results",      "harness/sweep", "report",        "harness/cli"};

int layer_of(const std::string& path) {
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < kLayers.size(); ++i)
    if (path.rfind(kLayers[i] + "/", 0) == 0 && kLayers[i].size() > best_len) {
      best = static_cast<int>(i);
      best_len = kLayers[i].size();
    }
  return best;
}

struct Violation {
  std::string file, include;
};

// Every project include of `text` (a file at `path`) that names a higher layer
// or no layer at all.
std::vector<Violation> check_includes(const std::string& path, const std::string& text) {
  static const std::regex include(R"re(^\s*#\s*include\s*"([^"]+)")re");
  std::vector<Violation> out;
  const int own = layer_of(path);
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, include)) continue;
    const std::string target = m[1];
    if (target.find('/') == std::string::npos) continue;  // generated (laco_build_stamp.h)
    const int theirs = layer_of(target);
    if (own < 0 || theirs < 0 || theirs > own) out.push_back({path, target});
  }
  return out;
}

TEST(Layers, TheCheckCatchesAnIncludeOfAHigherLayer) {
  EXPECT_TRUE(check_includes("methods/laco.cc", "#include \"harness/model/init.h\"\n").empty());
  EXPECT_TRUE(check_includes("report/tables.cc", "#include \"evals/run_record.h\"\n").empty());
  EXPECT_EQ(check_includes("methods/laco.cc", "#include \"evals/registry.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("harness/base/text.cc", "  #  include \"harness/print/table.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("results/store.cc", "#include \"harness/sweep/sweep.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("harness/model/encoder.h", "#include \"nowhere/x.h\"\n").size(), 1u) << "unknown folder";
  EXPECT_EQ(layer_of("harness/cli/main.cc"), 8);
  EXPECT_EQ(layer_of("harness/base/pch.h"), 0);
}

TEST(Layers, NoFileIncludesAHigherLayer) {
  const fs::path root = fs::path(LACO_SWEEPS_DIR).parent_path();
  size_t files = 0, includes = 0;
  std::vector<Violation> violations;
  for (const char* top : {"harness", "methods", "evals", "results", "report"})
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      const std::string rel = fs::relative(entry.path(), root).generic_string();
      ASSERT_GE(layer_of(rel), 0) << rel << " is in no layer: add its folder to kLayers and docs/architecture.md";
      const std::string text = test::read_file(entry.path().string());
      for (size_t at = text.find("#include \""); at != std::string::npos; at = text.find("#include \"", at + 1))
        ++includes;
      for (auto& v : check_includes(rel, text)) violations.push_back(v);
      ++files;
    }
  EXPECT_GT(files, 100u);
  EXPECT_GT(includes, 250u);
  for (const auto& v : violations) ADD_FAILURE() << v.file << " includes " << v.include << " (a higher layer)";
}

}  // namespace
}  // namespace laco
