// A benchmark's questions for a released model (issue 43): a local JSONL file,
// one question a line, images by path relative to the file:
//
//   {"id": "q1", "image": "images/0001.jpg", "question": "Is there a dog?",
//    "answer": "yes", "category": "existence", "image_id": "0001"}
//   {"id": 7, "image": "...", "question": "...", "answers": ["2", "two", ...]}
//   {"id": "m3", "image": "...", "question": "...", "options": ["cat", "dog"], "answer": "B"}
//
// `answer` (one) or `answers` (several: VQAv2's ten, DocVQA's accepted ones),
// not both; `options` for multiple choice (A, B, ... in order), `category`
// and `image_id` where the task groups by them (MME's acc+ pairs questions on
// one image; default: the image path), and anything task-specific under
// `extra` (an object). docs/benchmarks.md says how to write it from each
// task's Hugging Face dataset.
//
// Untrusted: each line within the line-size limit, the file within the
// data-file limit; every problem (bad JSON, a missing or mistyped field, a
// duplicate id, a missing image, a field the task needs) is reported with
// file:line, up to 20 at once, and nothing is run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/score/task.h"

namespace laco {

struct BenchmarkQuestion {
  TaskQuestion question;
  std::string image;  ///< the image's path, resolved against the JSONL's folder
  int64_t line = 0;   ///< 1-based line in the file
};

struct Benchmark {
  std::string path;    ///< the JSONL read
  std::string sha256;  ///< of its bytes (the run's identity of its data)
  std::string task;    ///< the task type its questions are checked against
  int64_t total = 0;   ///< questions in the file (before --limit)
  std::vector<BenchmarkQuestion> questions;  ///< in file order; the first `limit` when limited
};

/// Reads and checks `path` for task type `task` (task_registry); `limit` > 0
/// keeps the first `limit` questions, as lmms-eval's --limit takes the first
/// documents (0: all). Usage: auto b = load_benchmark("mme.jsonl", "mme", 100);
Benchmark load_benchmark(const std::string& path, const std::string& task, int64_t limit = 0);

}  // namespace laco
