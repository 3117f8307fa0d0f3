// README.md and docs/: what a new user copies must work. Every `laco` command
// shown in a shell block parses with the binary as built (LACO_PARSE_ONLY=1:
// flags, values and their checks, nothing runs), every flag a synopsis or an
// inline `laco ...` names is one `laco <subcommand> --help` lists, every
// repository path a command names exists, and every link between the files
// resolves, anchors included (GitHub's heading slugs). Issue 30: the README was
// split into docs/, where commands and links drift unseen.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

const std::string kLaco = LACO_BIN;
const std::string kSource = LACO_SOURCE_DIR;

struct Doc {
  std::string name;  ///< relative to the source tree: README.md, docs/x.md
  std::vector<std::string> lines;
};

std::vector<Doc> load_docs() {
  std::vector<std::string> names = {"README.md"};
  for (const auto& entry : fs::directory_iterator(kSource + "/docs"))
    if (entry.path().extension() == ".md") names.push_back("docs/" + entry.path().filename().string());
  std::sort(names.begin() + 1, names.end());
  std::vector<Doc> docs;
  for (const auto& name : names) {
    Doc doc{name, {}};
    std::istringstream in(test::read_file(kSource + "/" + name));
    for (std::string line; std::getline(in, line);) doc.lines.push_back(line);
    docs.push_back(std::move(doc));
  }
  return docs;
}

/// A place in the docs, for messages: README.md:42.
struct Where {
  std::string file;
  size_t line = 0;
  std::string str() const { return file + ":" + std::to_string(line); }
};

/// A fenced block: its info string ("sh", "" ...) and its lines.
struct Fence {
  std::string info;
  Where where;  ///< the first line inside it
  std::vector<std::string> lines;
};

/// A paragraph of prose (outside fences; table rows each alone), joined by spaces.
struct Prose {
  Where where;
  std::string text;
};

void split_doc(const Doc& doc, std::vector<Fence>& fences, std::vector<Prose>& prose) {
  std::optional<Fence> fence;
  std::optional<Prose> para;
  auto end_para = [&] {
    if (para) prose.push_back(*para);
    para.reset();
  };
  for (size_t i = 0; i < doc.lines.size(); ++i) {
    const std::string& line = doc.lines[i];
    if (line.rfind("```", 0) == 0) {
      if (fence) {
        fences.push_back(*fence);
        fence.reset();
      } else {
        end_para();
        fence = Fence{line.substr(3), {doc.name, i + 2}, {}};
      }
      continue;
    }
    if (fence) {
      fence->lines.push_back(line);
      continue;
    }
    const bool table_row = line.rfind("|", 0) == 0;
    if (line.find_first_not_of(' ') == std::string::npos || table_row) end_para();
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    if (!para) para = Prose{{doc.name, i + 1}, line};
    else para->text += " " + line;
    if (table_row) end_para();
  }
  end_para();
  EXPECT_FALSE(fence) << doc.name << ": a fence opened at line " << (fence ? fence->where.line - 1 : 0) << " never closes";
}

/// Shell words of one simple command line: quotes and backslashes as sh reads
/// them; the line is first cut at unquoted `#` comments, and at `;`, `&&`,
/// `||`, `|` and `&` into the commands it chains.
std::vector<std::vector<std::string>> shell_commands(const std::string& line) {
  std::vector<std::vector<std::string>> commands(1);
  std::string word;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) commands.back().push_back(word);
    word.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\'' || c == '"') {
      const size_t close = line.find(c, i + 1);
      EXPECT_NE(close, std::string::npos) << "unbalanced quote in: " << line;
      if (close == std::string::npos) break;
      word += line.substr(i + 1, close - i - 1);
      in_word = true;
      i = close;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == ';' || c == '&' || c == '|') {
      end_word();
      if (i + 1 < line.size() && line[i + 1] == c) ++i;
      commands.emplace_back();
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else {
      word += c;
      in_word = true;
    }
  }
  end_word();
  commands.erase(std::remove_if(commands.begin(), commands.end(), [](const auto& c) { return c.empty(); }),
                 commands.end());
  return commands;
}

bool is_laco(const std::string& word) { return word == "laco" || word == "build/laco" || word == "./build/laco"; }

/// A command a reader would paste: the lines of shell blocks (sh, bash,
/// console), continuation backslashes joined, and `$ ` lines of any block.
struct Runnable {
  Where where;
  std::vector<std::string> words;
};

std::vector<Runnable> runnable_commands(const std::vector<Fence>& fences) {
  std::vector<Runnable> out;
  for (const auto& fence : fences) {
    const bool shell = fence.info == "sh" || fence.info == "bash" || fence.info == "console";
    for (size_t i = 0; i < fence.lines.size(); ++i) {
      std::string line = fence.lines[i];
      const size_t first = i;
      const bool prompt = line.rfind("$ ", 0) == 0;
      if (prompt) line = line.substr(2);
      else if (!shell || fence.info == "console") continue;  // output lines
      while (!line.empty() && line.back() == '\\' && i + 1 < fence.lines.size()) line.pop_back(), line += fence.lines[++i];
      for (auto& words : shell_commands(line)) out.push_back({{fence.where.file, fence.where.line + first}, words});
    }
  }
  return out;
}

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// A `laco` command line's subcommand path ({"run"}, {"data", "export"}, {}).
// The subcommands `laco --help` lists (the binary is the one place they are declared).
const std::set<std::string>& top_subcommands() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out;
    const auto r = test::run_command("OMP_WAIT_POLICY=PASSIVE " + kLaco + " --help");
    std::istringstream in(r.output.substr(std::min(r.output.size(), r.output.find("Subcommands:"))));
    std::string line;
    std::getline(in, line);  // the heading
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string first;
      if (words >> first) out.insert(first);
    }
    return out;
  }();
  return names;
}

std::vector<std::string> subcommand_path(const std::vector<std::string>& words) {
  const std::set<std::string>& kTop = top_subcommands();
  std::vector<std::string> path;
  if (words.size() > 1 && kTop.count(words[1])) path.push_back(words[1]);
  if (!path.empty() && path[0] == "data" && words.size() > 2 && words[2] == "export") path.push_back("export");
  if (!path.empty() && path[0] == "import" && words.size() > 2 && words[2] == "lmms-eval") path.push_back("lmms-eval");
  return path;
}

/// The options `laco <path> --help` lists (-h and --help included).
const std::set<std::string>& help_flags(const std::vector<std::string>& path) {
  static std::map<std::vector<std::string>, std::set<std::string>> cache;
  auto it = cache.find(path);
  if (it != cache.end()) return it->second;
  std::string command = "OMP_WAIT_POLICY=PASSIVE " + kLaco;
  for (const auto& p : path) command += " " + p;
  const auto r = test::run_command(command + " --help");
  EXPECT_EQ(r.status, 0) << command << " --help\n" << r.output;
  std::set<std::string> flags;
  std::istringstream in(r.output);
  static const std::regex kOption(R"(^\s+(-[^\s]+))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, kOption)) continue;
    std::stringstream names(m[1].str());
    for (std::string name; std::getline(names, name, ',');) flags.insert(name);
  }
  EXPECT_TRUE(flags.count("--help")) << command << " --help lists no --help:\n" << r.output;
  return cache.emplace(path, flags).first->second;
}

/// Flags a synopsis names: -x, --name (a value after '=' or a space is not one).
std::vector<std::string> named_flags(const std::string& text) {
  static const std::regex kFlag(R"((?:^|[\s\[(|/])(--?[A-Za-z][A-Za-z0-9_-]*))");
  std::vector<std::string> flags;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kFlag); it != std::sregex_iterator(); ++it)
    flags.push_back((*it)[1].str());
  return flags;
}

void expect_flags_listed(const Where& where, const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  const auto path = subcommand_path(words);
  const auto& listed = help_flags(path);
  for (const auto& flag : named_flags(text)) {
    EXPECT_TRUE(listed.count(flag)) << where.str() << ": `" << text << "` names " << flag << ", which `laco"
                                    << (path.empty() ? "" : " " + path[0]) << (path.size() > 1 ? " " + path[1] : "")
                                    << " --help` does not list";
  }
}

/// GitHub's anchor of a heading: lower case, punctuation dropped but '-' and
/// '_', spaces to '-'; a repeated one gets -1, -2, ...
std::set<std::string> anchors(const Doc& doc) {
  std::set<std::string> out;
  std::map<std::string, int> seen;
  bool fenced = false;
  for (const auto& line : doc.lines) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (fenced || line.empty() || line[0] != '#') continue;
    const size_t text = line.find_first_not_of('#');
    if (text == std::string::npos || line[text] != ' ') continue;
    std::string slug;
    for (char c : line.substr(text + 1)) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || c == '-' || c == '_') slug += static_cast<char>(std::tolower(u));
      else if (c == ' ') slug += '-';
    }
    const int n = seen[slug]++;
    out.insert(n == 0 ? slug : slug + "-" + std::to_string(n));
  }
  return out;
}

std::string without_code_spans(const std::string& text) {
  static const std::regex kSpan("(`+)[^`]*?\\1");
  return std::regex_replace(text, kSpan, "");
}

std::vector<std::string> code_spans(const std::string& text) {
  static const std::regex kSpan("(`+)\\s*([^`]*?)\\s*\\1");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kSpan); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[2].str());
  return out;
}

TEST(Docs, EveryShownLacoCommandParsesAndItsRepositoryPathsExist) {
  const auto docs = load_docs();
  ASSERT_GE(docs.size(), 2u) << "README.md and docs/*.md";
  int commands = 0;
  for (const auto& doc : docs) {
    std::vector<Fence> fences;
    std::vector<Prose> prose;
    split_doc(doc, fences, prose);
    for (const auto& cmd : runnable_commands(fences)) {
      const auto& w = cmd.words;
      if (w[0].rfind("scripts/", 0) == 0) {
        EXPECT_TRUE(fs::exists(kSource + "/" + w[0])) << cmd.where.str() << ": " << w[0] << " does not exist";
        continue;
      }
      if (!is_laco(w[0])) continue;
      ++commands;
      std::string line = "cd " + shell_quote(kSource) + " && LACO_PARSE_ONLY=1 OMP_WAIT_POLICY=PASSIVE " + kLaco;
      std::string shown = "laco";
      for (size_t i = 1; i < w.size(); ++i) {
        line += " " + shell_quote(w[i]);
        shown += " " + w[i];
        for (const char* dir : {"sweeps/", "tests/", "scripts/"})
          if (w[i].rfind(dir, 0) == 0)
            EXPECT_TRUE(fs::exists(kSource + "/" + w[i])) << cmd.where.str() << ": `" << shown << "`: " << w[i]
                                                           << " does not exist";
      }
      const auto r = test::run_command(line);
      EXPECT_EQ(r.status, 0) << cmd.where.str() << ": `" << shown << "` does not parse:\n" << r.output;
    }
  }
  // The README alone shows the tour: run, sweep, query, report, compare.
  EXPECT_GE(commands, 20) << "fewer laco commands than the README's tour has: is the extraction broken?";
}

TEST(Docs, EveryFlagASynopsisOrAnInlineCommandNamesIsOneTheHelpLists) {
  int checked = 0;
  for (const auto& doc : load_docs()) {
    std::vector<Fence> fences;
    std::vector<Prose> prose;
    split_doc(doc, fences, prose);
    // Synopses: lines of plain blocks that start with `laco ` (its description
    // column, after three spaces, cut off), with their `[...]` continuation lines.
    for (const auto& fence : fences) {
      if (!fence.info.empty()) continue;
      for (size_t i = 0; i < fence.lines.size(); ++i) {
        if (fence.lines[i].rfind("laco ", 0) != 0) continue;
        const auto synopsis = [](const std::string& line) {
          const size_t gap = line.find("   ", line.find_first_not_of(' '));
          return gap == std::string::npos ? line : line.substr(0, gap);
        };
        std::string text = synopsis(fence.lines[i]);
        const Where where{fence.where.file, fence.where.line + i};
        while (i + 1 < fence.lines.size()) {
          const auto& next = fence.lines[i + 1];
          const size_t first = next.find_first_not_of(' ');
          if (first == std::string::npos || first == 0 || next[first] != '[') break;
          text += " " + synopsis(next.substr(first));
          ++i;
        }
        expect_flags_listed(where, text);
        ++checked;
      }
    }
    for (const auto& para : prose)
      for (const auto& span : code_spans(para.text))
        if (span.rfind("laco ", 0) == 0) {
          expect_flags_listed(para.where, span);
          ++checked;
        }
  }
  EXPECT_GE(checked, 20) << "fewer synopses and inline commands than the docs have: is the extraction broken?";
}

TEST(Docs, EveryLinkBetweenTheFilesResolvesWithItsAnchor) {
  const auto docs = load_docs();
  std::map<std::string, std::set<std::string>> anchors_of;
  for (const auto& doc : docs) anchors_of[doc.name] = anchors(doc);
  static const std::regex kLink(R"(\[[^\]]*\]\(([^)\s]+)\))");
  int links = 0;
  for (const auto& doc : docs) {
    std::vector<Fence> fences;
    std::vector<Prose> prose;
    split_doc(doc, fences, prose);
    const fs::path dir = fs::path(doc.name).parent_path();
    for (const auto& para : prose) {
      const std::string text = without_code_spans(para.text);
      for (auto it = std::sregex_iterator(text.begin(), text.end(), kLink); it != std::sregex_iterator(); ++it) {
        const std::string target = (*it)[1].str();
        if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0 || target.rfind("mailto:", 0) == 0)
          continue;
        ++links;
        const size_t hash = target.find('#');
        const std::string file = target.substr(0, hash);
        const std::string anchor = hash == std::string::npos ? "" : target.substr(hash + 1);
        const std::string resolved =
            file.empty() ? doc.name : (dir / file).lexically_normal().generic_string();
        EXPECT_TRUE(fs::exists(kSource + "/" + resolved))
            << para.where.str() << ": link " << target << ": " << resolved << " does not exist";
        if (anchor.empty()) continue;
        const auto found = anchors_of.find(resolved);
        if (found == anchors_of.end()) {
          ADD_FAILURE() << para.where.str() << ": link " << target << ": an anchor into a file that is not one of the docs";
          continue;
        }
        EXPECT_TRUE(found->second.count(anchor)) << para.where.str() << ": link " << target << ": " << resolved
                                                 << " has no heading whose anchor is #" << anchor;
      }
    }
  }
  EXPECT_GE(links, 10) << "fewer links than the README's documentation list has: is the extraction broken?";
}

TEST(Docs, TheReadmeIsShortAndLinksEveryDocsFile) {
  const auto docs = load_docs();
  EXPECT_LT(docs.front().lines.size(), 250u) << "README.md: what a new user reads in five minutes; the rest goes to docs/";
  std::string readme;
  for (const auto& line : docs.front().lines) readme += line + "\n";
  for (size_t i = 1; i < docs.size(); ++i)
    EXPECT_NE(readme.find("(" + docs[i].name + ")"), std::string::npos)
        << "README.md does not link " << docs[i].name << ": a reader would not find it";
}

// Tables generated from a registry are shown in the docs as the command prints them:
// the metrics (evals/metrics.h), the input limits (harness/base/limits.h) and the
// benchmark task types (harness/score/task.h).
TEST(Docs, TheRegistryTablesAreWhatTheirCommandsPrint) {
  for (const auto& [file, command] : std::vector<std::pair<std::string, std::string>>{
           {"docs/evaluations.md", "laco metrics -o md"},
           {"docs/cli.md", "laco limits -o md"},
           {"docs/benchmarks.md", "laco tasks -o md"}}) {
    const std::string doc = test::read_file(kSource + "/" + file);
    const std::string open = "<!-- " + command + " -->\n", close = "<!-- end of " + command + " -->";
    const auto begin = doc.find(open), end = doc.find(close);
    ASSERT_NE(begin, std::string::npos) << file << " has no " << open;
    ASSERT_NE(end, std::string::npos) << file << " has no " << close;
    // Defaults only: no limit raised in the environment of the test.
    const auto r = test::run_command("env -u LACO_MAX_FILE_BYTES -u LACO_MAX_DATA_BYTES -u LACO_MAX_HEADER_BYTES "
                                     "-u LACO_MAX_LINE_BYTES -u LACO_MAX_IMAGE_PIXELS -u LACO_MAX_SWEEP_RUNS " +
                                     kLaco + command.substr(4) + " 2>/dev/null");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(doc.substr(begin + open.size(), end - begin - open.size()), r.output)
        << file << ": regenerate the table between the markers with `" << command << "`";
  }
}

TEST(Docs, TheCheckerFindsWhatIsWrong) {
  // The extraction and the checks above catch what they are for.
  EXPECT_EQ(shell_commands("laco run -m 'a b' --x=\"c d\" # comment").front(),
            (std::vector<std::string>{"laco", "run", "-m", "a b", "--x=c d"}));
  EXPECT_EQ(shell_commands("laco sweep s.json &").size(), 1u);
  EXPECT_EQ(shell_commands("wait; laco merge a b").size(), 2u);
  EXPECT_EQ(named_flags("laco query [--db DB] [-o table|md] --where K=V -t/--threads"),
            (std::vector<std::string>{"--db", "-o", "--where", "-t", "--threads"}));
  EXPECT_EQ(subcommand_path({"laco", "data", "export", "--out", "x"}), (std::vector<std::string>{"data", "export"}));
  EXPECT_TRUE(help_flags({"run"}).count("--eval"));
  EXPECT_FALSE(help_flags({"run"}).count("--no-such-flag"));
  const auto bad = test::run_command("cd " + shell_quote(kSource) + " && LACO_PARSE_ONLY=1 " + kLaco +
                                     " run --no-such-flag");
  EXPECT_NE(bad.status, 0) << "a flag laco does not have must not parse:\n" << bad.output;
  const auto bad_value = test::run_command("LACO_PARSE_ONLY=1 " + kLaco + " sweep sweeps/smoke.json -t 0");
  EXPECT_NE(bad_value.status, 0) << "a value outside a flag's range must not parse:\n" << bad_value.output;
  Doc doc{"x.md", {"# A heading, with `code`!", "## A heading, with `code`!", "## Quick start (fresh Debian 12)"}};
  EXPECT_EQ(anchors(doc), (std::set<std::string>{"a-heading-with-code", "a-heading-with-code-1",
                                                   "quick-start-fresh-debian-12"}));
}

}  // namespace
}  // namespace laco
