// The layer rule (docs/architecture.md, Layout): a file includes only files of its own
// layer or of layers below it. Read from the #include lines of the tree, so a
// change that breaks the rule fails here, not in a review months later.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

// Every folder of code, bottom to top, with the layers its files may include
// directly (its own always); a layer may also include what those may, so the
// allowed set is the closure. CMakeLists.txt links the same arrows.
struct Layer {
  std::string folder;
  std::vector<std::string> below;
};
const std::vector<Layer> kLayers = {
    {"harness/base", {}},
    {"harness/print", {"harness/base"}},
    {"harness/text", {"harness/base"}},
    {"harness/image", {"harness/base"}},
    {"harness/model", {"harness/base"}},
    {"harness/score", {"harness/base"}},
    {"methods", {"harness/model"}},
    {"parity", {"methods", "harness/print"}},
    {"evals", {"methods", "harness/print", "harness/text", "harness/image", "harness/score"}},
    {"results", {"evals"}},
    {"runner", {"results"}},
    {"report", {"results"}},
    {"cli", {"runner", "report", "parity"}},
    {"tests", {"cli"}},
};

int layer_of(const std::string& path) {
  int best = -1;
  size_t best_len = 0;
  for (size_t i = 0; i < kLayers.size(); ++i)
    if (path.rfind(kLayers[i].folder + "/", 0) == 0 && kLayers[i].folder.size() > best_len) {
      best = static_cast<int>(i);
      best_len = kLayers[i].folder.size();
    }
  return best;
}

// Whether a file of layer `from` may include one of layer `to`.
bool may_include(int from, int to) {
  if (from == to) return true;
  for (const auto& b : kLayers[static_cast<size_t>(from)].below)
    if (may_include(layer_of(b + "/"), to)) return true;
  return false;
}

struct Violation {
  std::string file, include;
};

// Every project include of `text` (a file at `path`) that names a layer it
// may not include, or no layer at all.
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
    if (target.find('/') == std::string::npos) continue;  // generated (laco_build_stamp.h), or a test's own
    const int theirs = layer_of(target);
    if (own < 0 || theirs < 0 || !may_include(own, theirs)) out.push_back({path, target});
  }
  return out;
}

TEST(Layers, TheCheckCatchesAnIncludeOfAHigherLayer) {
  EXPECT_TRUE(check_includes("methods/laco.cc", "#include \"harness/model/init.h\"\n").empty());
  EXPECT_TRUE(check_includes("report/tables.cc", "#include \"evals/run_record.h\"\n").empty());
  EXPECT_EQ(check_includes("methods/laco.cc", "#include \"evals/registry.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("harness/base/text.cc", "  #  include \"harness/print/table.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("results/store.cc", "#include \"runner/sweep.h\"\n").size(), 1u);
  // Side by side, neither above the other: the arrows, not an order.
  EXPECT_EQ(check_includes("report/tables.cc", "#include \"runner/sweep.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("harness/model/encoder.cc", "#include \"harness/print/table.h\"\n").size(), 1u);
  EXPECT_EQ(check_includes("methods/laco.cc", "#include \"parity/report.h\"\n").size(), 1u);
  EXPECT_TRUE(check_includes("cli/main.cc", "#include \"parity/method.h\"\n#include \"harness/base/text.h\"\n").empty());
  EXPECT_EQ(check_includes("harness/model/encoder.h", "#include \"nowhere/x.h\"\n").size(), 1u) << "unknown folder";
  EXPECT_EQ(kLayers[static_cast<size_t>(layer_of("cli/main.cc"))].folder, "cli");
  EXPECT_EQ(layer_of("harness/base/pch.h"), 0);
}

// Every source file of the tree, wherever it is: a new folder must be given
// its arrows here (and in CMakeLists.txt, docs/architecture.md) before its code counts.
TEST(Layers, EveryFileIsInALayerAndIncludesOnlyWhatItsLayerMay) {
  const fs::path root = fs::path(LACO_SWEEPS_DIR).parent_path();
  size_t files = 0, includes = 0;
  std::set<std::string> folders;
  std::vector<Violation> violations;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    // Build trees (any folder CMake configured) and hidden folders hold no sources of ours.
    if (it->is_directory() && (name.front() == '.' || fs::exists(path / "CMakeCache.txt"))) {
      it.disable_recursion_pending();
      continue;
    }
    const auto ext = path.extension();
    if (!it->is_regular_file() || (ext != ".h" && ext != ".cc" && ext != ".cu")) continue;
    const std::string rel = fs::relative(path, root).generic_string();
    ASSERT_GE(layer_of(rel), 0) << rel << " is in no layer: add its folder to kLayers, CMakeLists.txt and "
                                          "docs/architecture.md";
    folders.insert(kLayers[static_cast<size_t>(layer_of(rel))].folder);
    const std::string text = test::read_file(path.string());
    for (size_t at = text.find("#include \""); at != std::string::npos; at = text.find("#include \"", at + 1))
      ++includes;
    for (auto& v : check_includes(rel, text)) violations.push_back(v);
    ++files;
  }
  EXPECT_GT(files, 150u);
  EXPECT_GT(includes, 400u);
  for (const auto& layer : kLayers) EXPECT_TRUE(folders.count(layer.folder)) << layer.folder << " holds no source file";
  for (const auto& v : violations) ADD_FAILURE() << v.file << " includes " << v.include << " (not a layer it may include)";
}

}  // namespace
}  // namespace laco
