// The results database: schema and migrations, refusing files that are not
// laco's (unmodified), atomic run records, merge conflicts, and queries whose
// filters cannot inject SQL.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "harness/base/host.h"
#include "harness/base/sha256.h"
#include "harness/print/printer.h"
#include "runner/sweep_spec.h"
#include "results/merge.h"
#include "results/query.h"
#include "results/schema.h"
#include "results/store.h"
#include "tests/sweep_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {

const std::string kLaco = LACO_BIN;

// A database holding two finished runs and one pending, written through the store.
struct StoredRuns {
  std::string dir, db;
  std::vector<PlannedRun> runs;
  explicit StoredRuns(const std::string& name, const std::string& file = "laco.db") {
    dir = test::temp_dir(name);
    db = dir + "/" + file;
    const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
    for (size_t i = 0; i < 3; ++i) runs.push_back(s.runs[i].planned());
    ResultStore store(db, true);
    store.register_runs("tiny", runs);
    store.claim({runs[0].key, runs[1].key}, "");
    store.record_done({{runs[0].key, record(0.5)}, {runs[1].key, record(0.25)}});
  }
  static RunRecord record(double accuracy) {
    RunRecord r;
    r.provenance = Provenance::here("cpu");
    r.provenance.started_at = r.provenance.finished_at = "2026-11-21T10:00:00Z";
    r.add("acc_mean", accuracy, "%");
    r.add("visual_tokens", 16, "tokens");
    r.series["loss_stage1"] = {{1, 2.0}, {2, 1.5}};
    return r;
  }
};

TEST(ResultsHash, Sha256MatchesTheStandardVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ResultsSchema, NewDatabaseHasTheSchemaWalAndTheApplicationId) {
  StoredRuns s("results_schema");
  sql::Connection c = open_results_db(s.db, false);
  EXPECT_EQ(std::get<int64_t>(c.scalar("PRAGMA application_id")), kResultsApplicationId);
  EXPECT_EQ(sql::to_text(c.scalar("PRAGMA journal_mode")), "wal");
  EXPECT_EQ(std::get<int64_t>(c.scalar("SELECT max(version) FROM schema_version")), results_schema_version());
  for (const char* view : {"v_runs", "v_metrics", "v_accuracy", "v_efficiency"})
    EXPECT_EQ(test::query_rows(s.db, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + view + "'"),
              std::vector<std::string>{"1"})
        << view;
  // The pivot views read the metrics of done runs.
  EXPECT_EQ(test::query_rows(s.db, "SELECT method, acc_mean, visual_tokens FROM v_accuracy ORDER BY acc_mean"),
            (std::vector<std::string>{"avgpool|0.25|16", "none|0.5|16"}));
  // Opening again (a second sweep) changes nothing.
  const std::string before = test::dump_runs(s.db, true);
  { ResultStore again(s.db, true); }
  EXPECT_EQ(test::dump_runs(s.db, true), before);
}

TEST(ResultsStore, ARunIsWrittenWholeOrNotAtAll) {
  StoredRuns s("results_atomic");
  ResultStore store(s.db, true);
  store.claim({s.runs[2].key}, "");
  RunRecord broken = StoredRuns::record(0.75);
  broken.add("acc_mean", 0.8, "%");  // a duplicate name: the insert fails halfway through the run's rows
  test::expect_error([&] { store.record_done({{s.runs[2].key, broken}}); }, {"UNIQUE constraint failed"});
  EXPECT_EQ(test::query_rows(s.db, "SELECT status FROM runs WHERE key = '" + s.runs[2].key + "'"),
            std::vector<std::string>{"running"});
  EXPECT_TRUE(test::query_rows(s.db, "SELECT name FROM metrics WHERE run_key = '" + s.runs[2].key + "'").empty());
  RunRecord nan = StoredRuns::record(std::nan(""));
  test::expect_error([&] { store.record_done({{s.runs[2].key, nan}}); }, {"metric acc_mean is nan"});
  EXPECT_TRUE(test::query_rows(s.db, "SELECT name FROM metrics WHERE run_key = '" + s.runs[2].key + "'").empty());
  EXPECT_EQ(test::query_rows(s.db, "SELECT count(*) FROM series WHERE run_key = '" + s.runs[0].key + "'"),
            std::vector<std::string>{"2"});
}

TEST(ResultsStore, StaleRunningRowsAreNotDoneButLiveOnesAreHeld) {
  RunState s;
  s.status = "running";
  s.worker_host = this_host();
  s.worker_pid = 1;  // init: alive, and not this process
  EXPECT_TRUE(held_by_live_process(s));
  s.worker_pid = 999999999;  // beyond pid_max: no such process
  EXPECT_FALSE(held_by_live_process(s));
  s.worker_pid = getpid();
  EXPECT_FALSE(held_by_live_process(s));
  s.worker_pid = 1;
  s.worker_host = "another-host";
  EXPECT_FALSE(held_by_live_process(s));
  s.status = "pending";
  s.worker_host = this_host();
  EXPECT_FALSE(held_by_live_process(s));
}

// Files laco must not write into: refused by every command, byte for byte unchanged.
void expect_refused(const std::string& path, const std::string& fragment) {
  const std::string before = test::read_file(path);
  const std::string spec = std::filesystem::path(path).parent_path().string() + "/spec.json";
  test::write_file(spec, test::tiny_spec().dump());
  // Writing (sweep), reading (query) and merging from it: the three ways in.
  for (const std::string& command : {test::sweep_command(spec, path), kLaco + " query --db " + path,
                                     kLaco + " merge " + std::filesystem::path(path).parent_path().string() +
                                         "/out.db " + path}) {
    auto r = test::run_command(command);
    EXPECT_EQ(r.status, 1) << command << "\n" << r.output;
    EXPECT_NE(r.output.find(path + ": " + fragment), std::string::npos) << command << "\n" << r.output;
    EXPECT_EQ(test::read_file(path), before) << command;
    EXPECT_FALSE(std::filesystem::exists(path + "-wal")) << command;
  }
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(path).parent_path() / "out.db"));
}

TEST(ResultsSchema, ForeignCorruptAndNewerDatabasesAreRefusedUnmodified) {
  StoredRuns good("results_refuse", "good.db");
  const std::string dir = good.dir;
  ResultStore(good.db, false);  // closing the last connection folds the WAL into the file

  test::write_file(dir + "/text.db", "name,value\nlaco,1\n");
  expect_refused(dir + "/text.db", "not an SQLite database");

  {  // another application's SQLite file
    sql::Connection c(dir + "/foreign.db", sql::Connection::Mode::kCreate);
    c.exec("CREATE TABLE runs (key TEXT, note TEXT); INSERT INTO runs VALUES ('a', 'b')");
  }
  expect_refused(dir + "/foreign.db", "not a laco results database (application_id 0x00000000");

  // A laco database whose pages after the first were overwritten.
  std::string bytes = test::read_file(good.db);
  ASSERT_GT(bytes.size(), 3 * 4096u);
  for (size_t i = 4096; i < 3 * 4096; ++i) bytes[i] = static_cast<char>(0xAB);
  test::write_file(dir + "/corrupt.db", bytes);
  expect_refused(dir + "/corrupt.db", "corrupt or unreadable SQLite database");

  {  // a laco database with a later schema
    std::filesystem::copy_file(good.db, dir + "/newer.db");
    sql::Connection c(dir + "/newer.db", sql::Connection::Mode::kReadWrite);
    c.exec("PRAGMA journal_mode = DELETE");
    c.exec("INSERT INTO schema_version VALUES (99, 'from the future', '2030-01-01T00:00:00Z')");
  }
  expect_refused(dir + "/newer.db", "schema version 99 is newer than this build's");
}

// A second database beside a.db holding a.db's runs, the first with a
// configuration that is not the one its key stands for (seed 99 instead of 0):
// edited, or written by a laco with another key rule.
std::string conflicting_db(const StoredRuns& a) {
  const std::string other = a.dir + "/other.db";
  ResultStore store(other, true);
  store.register_runs("tiny", a.runs);
  store.db()
      .prepare("UPDATE runs SET config = json_set(config, '$.seed', 99) WHERE key = ?")
      .bind(1, a.runs[0].key)
      .run();
  return other;
}

// The same run measured differently in two places is no conflict (both are
// kept: tests/test_remeasure.cc); one key with two configurations is.
TEST(ResultsMerge, OneKeyWithTwoConfigurationsIsAnErrorAndNothingIsWritten) {
  StoredRuns a("results_conflict");
  const std::string other = conflicting_db(a);
  const std::string before = test::dump_runs(a.db, true);
  test::expect_error([&] { merge_results(a.db, {other}); },
                     {a.db + ": 1 run(s) with one key but different configurations; nothing was merged",
                      "run " + a.runs[0].key, "seed = 0 vs 99", other});
  EXPECT_EQ(test::dump_runs(a.db, true), before);
  // Into a new file: the error leaves no file behind.
  const std::string fresh = a.dir + "/fresh.db";
  test::expect_error([&] { merge_results(fresh, {a.db, other}); }, {"nothing was merged"});
  EXPECT_FALSE(std::filesystem::exists(fresh));
  EXPECT_FALSE(std::filesystem::exists(fresh + "-wal"));

  // A run done elsewhere replaces one that is pending or failed here.
  {
    ResultStore store(other, true);
    store.claim({a.runs[2].key}, "");
    store.record_done({{a.runs[2].key, StoredRuns::record(0.3)}});
  }
  const std::string third = a.dir + "/third.db";
  {
    ResultStore store(third, true);
    store.register_runs("tiny", {a.runs[2]});
  }
  const auto summary = merge_results(third, {other});
  EXPECT_EQ(summary.replaced, 1u);
  EXPECT_EQ(summary.added, 2u);
  EXPECT_EQ(test::query_rows(third, "SELECT value FROM metrics WHERE name = 'acc_mean' AND run_key = '" + a.runs[2].key + "'"),
            std::vector<std::string>{"0.3"});
  test::expect_error([&] { merge_results(third, {third}); }, {"is both the output and an input"});
}

TEST(ResultsQuery, FiltersAreBoundSoQuotesAndSqlAreHarmless) {
  StoredRuns s("results_query");
  QueryOptions q;
  q.db = s.db;
  q.where = {"method=none"};
  auto t = run_query(q);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(sql::to_text(t.rows[0][0]), s.runs[0].key);

  const std::string count_before = test::query_rows(s.db, "SELECT count(*) FROM runs")[0];
  for (const std::string& value :
       {std::string("none' OR '1'='1"), std::string("none\" OR \"1\"=\"1"), std::string("x'; DROP TABLE runs; --"),
        std::string("%"), std::string("*"), std::string("1 OR 1=1"), std::string("none'--"), std::string("')) OR ((1")}) {
    for (const std::string& key : {"method", "layer", "seed", "grid_policy", "sweep"}) {
      q.where = {key + "=" + value};
      if (key == "layer")  // a placement is parsed, never compared as text
        test::expect_error([&] { run_query(q); }, {"--where layer: cannot read"});
      else
        EXPECT_TRUE(run_query(q).rows.empty()) << key << "=" << value;
    }
  }
  EXPECT_EQ(test::query_rows(s.db, "SELECT count(*) FROM runs")[0], count_before);

  // Keys and metric names are checked against what exists; nothing else reaches the SQL text.
  q.where = {"method = method OR 1=1 --=x"};
  test::expect_error([&] { run_query(q); }, {"--where: unknown key 'method '", "allowed: key, eval"});
  q.where = {"method;DROP TABLE runs=none"};
  test::expect_error([&] { run_query(q); }, {"--where: unknown key 'method;DROP TABLE runs'"});
  q.where = {};
  q.metrics = {"acc_mean) FROM runs; --"};
  test::expect_error([&] { run_query(q); }, {"--metrics: no metric 'acc_mean) FROM runs; --'", "allowed: all, acc_mean"});

  // Same key twice: either value; different keys: both. (none done; avgpool at 1/4 done, at 1 pending.)
  q.metrics = {"acc_mean"};
  q.where = {"method=none", "method=avgpool"};
  EXPECT_EQ(run_query(q).rows.size(), 3u);
  q.where = {"method=none", "method=avgpool", "status=done", "seed=0", "grid_policy=pad", "sweep=tiny", "grid=g"};
  EXPECT_EQ(run_query(q).rows.size(), 2u);
  q.where = {"method=none", "threads=2"};  // the configuration's thread count, not the provenance text
  EXPECT_EQ(run_query(q).rows.size(), 1u);
  q.where = {"method=none", "method=avgpool", "status=pending"};
  ASSERT_EQ(run_query(q).rows.size(), 1u);
  EXPECT_EQ(sql::to_text(run_query(q).rows[0][6]), "1");  // the layer column

  // A value that matches no run says so, naming the key and the values there are.
  std::vector<std::string> warnings;
  q.where = {"method=lacoo", "layer=1", "steps1=77"};
  EXPECT_TRUE(run_query(q, &warnings).rows.empty());
  ASSERT_EQ(warnings.size(), 2u) << "layer=1 matches runs";
  EXPECT_NE(warnings[0].find("--where method=lacoo: no run has method = lacoo"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("(values in " + s.db + ": avgpool, none)"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("--where steps1=77"), std::string::npos) << warnings[1];
}

TEST(ResultsQuery, RawSqlRunsReadOnlyAndOneStatementAtATime) {
  StoredRuns s("results_sql");
  const std::string before = test::dump_runs(s.db, true);
  QueryOptions q;
  q.db = s.db;
  q.sql = "SELECT method, acc_mean FROM v_accuracy ORDER BY method";
  auto t = run_query(q);
  std::vector<std::string> names;
  for (const auto& c : t.columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"method", "acc_mean"}));
  EXPECT_EQ(t.rows.size(), 2u);
  q.sql = "DELETE FROM runs";
  test::expect_error([&] { run_query(q); }, {s.db, "the statement would write; nothing was run"});
  q.sql = "SELECT 1; DROP TABLE runs";
  test::expect_error([&] { run_query(q); }, {"one SQL statement at a time"});
  q.sql = "PRAGMA journal_mode = DELETE";
  test::expect_error([&] { run_query(q); }, {s.db});
  // Issue 12, defect 8: VACUUM INTO was refused only after SQLite had created its (empty) target.
  q.sql = "VACUUM INTO '" + s.dir + "/copy.db'";
  test::expect_error([&] { run_query(q); }, {"--sql: the statement would write", "statements that only read"});
  EXPECT_FALSE(std::filesystem::exists(s.dir + "/copy.db"));
  EXPECT_EQ(test::dump_runs(s.db, true), before);
  EXPECT_EQ(sql::to_text(open_results_db(s.db, false).scalar("PRAGMA journal_mode")), "wal");
}

TEST(ResultsQuery, FormatsKeepEveryRowAndEscapeCells) {
  PrintTable t;
  t.columns = {{"method"}, {"note"}, {"acc", "%"}};
  t.add({std::string("laco"), std::string("a,b \"c\" | d"), 12.3456789});
  t.add({std::string("none"), sql::Value(), int64_t{7}});
  auto format_result_table = [](const PrintTable& table, const std::string& format) {
    return make_printer(format)->print(table);
  };
  EXPECT_EQ(format_result_table(t, "csv"), "method,note,acc\nlaco,\"a,b \"\"c\"\" | d\",12.3456789\nnone,,7\n");
  const auto md = format_result_table(t, "md");
  EXPECT_NE(md.find("| method | note"), std::string::npos) << md;
  EXPECT_NE(md.find("acc (%) |"), std::string::npos) << md;
  EXPECT_NE(md.find("a,b \"c\" \\| d"), std::string::npos) << md;
  EXPECT_NE(md.find("12.35"), std::string::npos) << md;
  const auto json = nlohmann::json::parse(format_result_table(t, "json"));
  EXPECT_EQ(json[0]["acc"].get<double>(), 12.3456789);
  EXPECT_TRUE(json[1]["note"].is_null());
  EXPECT_EQ(json[1]["acc"].get<int64_t>(), 7);
  test::expect_error([&] { format_result_table(t, "xml"); }, {"--format: unknown format 'xml'", "table, md, csv, json"});
}

// Creating a database is all or nothing. A kill between the WAL setting and
// the schema (3 of 20 trials in a fault campaign) used to leave a file every
// later sweep refused; such a provably empty file (no application id, no
// table) and a 0-byte file are now initialised by a writer and named clearly
// to a reader.
TEST(ResultsSchema, ProvablyEmptyFilesAreInitialisedNotRefused) {
  const std::string dir = test::temp_dir("results_empty");
  const std::string wal_only = dir + "/wal_only.db", zero = dir + "/zero.db";
  {
    sql::Connection c(wal_only, sql::Connection::Mode::kCreate);
    c.exec("PRAGMA journal_mode = WAL");  // what a kill right after this line left
  }
  test::write_file(zero, "");
  for (const auto& db : {wal_only, zero}) {
    EXPECT_EQ(inspect_results_db(db), 0) << db;
    test::expect_error([&] { open_results_db(db, false); }, {db, "an empty database file", "laco sweep"});
    auto r = test::run_command(kLaco + " query --db " + db);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(r.output.find("no such table"), std::string::npos) << r.output;
    r = test::run_command(kLaco + " sweep " LACO_SWEEPS_DIR "/smoke.json --dry-run --db " + db);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("empty (no laco schema yet"), std::string::npos) << r.output;
    { ResultStore store(db, true); }  // a writer initialises it
    EXPECT_EQ(inspect_results_db(db), results_schema_version()) << db;
  }
  // A new database appears whole: no temporary left behind.
  { ResultStore store(dir + "/new.db", true); }
  EXPECT_EQ(inspect_results_db(dir + "/new.db"), results_schema_version());
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().string().find(".creating-"), std::string::npos) << entry.path();
}


// Issue 12, defect 4: a database on read-only media could not be read (the
// reader wanted to create -shm). Needs a read-only bind mount (root); skips
// where the machine does not allow one.
TEST(ResultsSchema, ReadersWorkOnReadOnlyMedia) {
  StoredRuns s("results_ro_src");
  const std::string mnt = test::temp_dir("results_ro_mnt");
  const auto mount = test::Mount::read_only(s.dir, mnt);
  if (!mount.ok) GTEST_SKIP() << "no read-only bind mount on this machine (needs root)";
  ASSERT_NE(test::run_command("touch " + mnt + "/probe").status, 0) << "the mount must be read-only";
  const std::string db = mnt + "/laco.db";
  for (const std::string& cmd : {" query --db " + db, " report -q --db " + db + " --out " + s.dir + "-report",
                                 " sweep " + std::string(LACO_SWEEPS_DIR) + "/smoke.json --dry-run --db " + db,
                                 " merge " + s.dir + "-merged.db " + db}) {
    const auto r = test::run_command(kLaco + cmd);
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
  }
  EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM runs"), std::vector<std::string>{"3"});
}

// With committed transactions still in its -wal, a read-only copy cannot be
// read without writing -shm: the message says so and what to do.
TEST(ResultsSchema, ReadOnlyMediaWithAPendingWalIsExplained) {
  const std::string src = test::temp_dir("results_ro_wal_src"), mnt = test::temp_dir("results_ro_wal_mnt");
  {
    StoredRuns s("results_ro_wal_db");
    sql::Connection c(s.db, sql::Connection::Mode::kCreate);
    c.exec("PRAGMA wal_autocheckpoint = 0");
    c.exec("UPDATE runs SET error = 'x'");  // lands in the WAL, not yet in the file
    for (const char* suffix : {"", "-wal"})
      std::filesystem::copy_file(s.db + suffix, src + "/laco.db" + suffix);
  }
  const auto mount = test::Mount::read_only(src, mnt);
  if (!mount.ok) GTEST_SKIP() << "no read-only bind mount on this machine (needs root)";
  test::expect_error([&] { open_results_db(mnt + "/laco.db", false); },
                     {mnt + "/laco.db: on read-only media", "laco.db-wal", "copy the database and its -wal"});
}

// Issue 12, defect 8: a failed merge into a 0-byte file left the laco schema
// in it, and one into a missing folder left the folders.
TEST(ResultsMerge, AFailedMergeLeavesAnEmptyOrMissingOutputAsItWas) {
  StoredRuns a("results_merge_fail");
  const std::string other = conflicting_db(a);
  const std::string empty = a.dir + "/empty.db";
  test::write_file(empty, "");
  test::expect_error([&] { merge_results(empty, {a.db, other}); }, {"nothing was merged"});
  EXPECT_EQ(std::filesystem::file_size(empty), 0u) << "the empty file stays empty";
  const std::string deep = a.dir + "/new/folders/out.db";
  test::expect_error([&] { merge_results(deep, {a.db, other}); }, {"nothing was merged"});
  EXPECT_FALSE(std::filesystem::exists(a.dir + "/new")) << "no folder this merge created is left";
  for (const auto& entry : std::filesystem::directory_iterator(a.dir))
    EXPECT_EQ(entry.path().string().find(".merging-"), std::string::npos) << entry.path();

  // Without the conflict both succeed, and the empty file becomes the merged database.
  EXPECT_EQ(merge_results(empty, {a.db}).added, 3u);
  EXPECT_EQ(merge_results(deep, {a.db}).added, 3u);
  EXPECT_EQ(test::dump_runs(empty, true), test::dump_runs(a.db, true));
  EXPECT_EQ(test::dump_runs(deep, true), test::dump_runs(a.db, true));
}

}  // namespace
}  // namespace laco
