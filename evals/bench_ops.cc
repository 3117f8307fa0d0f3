// Microbenchmarks: every method's forward and forward+backward at the paper
// and cpu-small widths for r = 2, 3, 4; the fused LaCo pack against a memory
// copy of the same bytes; one encoder block; the whole encoder, fused and
// composed, with and without LaCo; one LM layer.
// Manual time around each operation; counters tokens/s and GFLOP/s from the
// analytic FLOP model (shown as tokens=.../s, GFLOP=.../s). Usage: laco_bench [--benchmark_filter=method_fwd/laco]
// or laco_bench --encoder-server=cpu-small/laco (see serve_encoder).
// tokenizer_encode/qwen: the Qwen tokenizer (harness/text) over the 939
// strings of tests/tokenizer/qwen_parity.json, once each per iteration
// (counters tokens/s and bytes/s); scripts/tokenizer_speed.py runs it
// interleaved with Hugging Face's tokenizers on the same strings.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "evals/flops.h"
#include "evals/measure.h"
#include "harness/base/build_info.h"
#include "harness/base/files.h"
#include "harness/base/host.h"
#include "harness/base/json_check.h"
#include "harness/base/threads.h"
#include "harness/model/placement.h"
#include "harness/model/presets.h"
#include "harness/text/bpe_tokenizer.h"
#include "methods/laco_pack_cpu.h"
#include "methods/registry.h"

namespace laco {
namespace {

struct Shape {
  std::string name;
  MllmOptions model;
  int64_t k;  ///< the block a compressor follows (1/4 depth), for TokenPacker's levels
  int64_t lm_tokens;
};

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (const char* name : {"paper", "cpu-small"}) {
    const auto& p = find_preset(name);
    const int64_t visual = p.crops * compressed_grid(p.model.encoder.grid(), 2).tokens();
    out.push_back({name, p.model, std::max<int64_t>(1, p.model.encoder.depth() / 4), visual + p.text_tokens});
  }
  return out;
}

void set_counters(benchmark::State& state, double tokens, double flops) {
  state.counters["tokens"] = benchmark::Counter(tokens, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_method(benchmark::State& state, const Shape& shape, const std::string& method, int64_t r, bool backward) {
  torch::manual_seed(0);
  const auto& e = shape.model.encoder;
  const Grid grid = e.grid();
  auto c = make_compressor(method, CompressorOptions(e.width()).ratio(r).block(shape.k));
  auto x = torch::randn({1, grid.tokens(), e.width()}, torch::requires_grad(backward));
  std::vector<torch::Tensor> features;
  // Inside the encoder the features come from earlier blocks and need gradients too.
  for (size_t i = 0; i < c->feature_blocks().size(); ++i)
    features.push_back(torch::randn({1, grid.tokens(), e.width()}, torch::requires_grad(backward)));
  torch::Tensor seed;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    if (backward) {
      auto y = c->forward(x, grid, features).tokens;
      if (!seed.defined()) seed = torch::randn_like(y);
      (y * seed).sum().backward();
    } else {
      torch::NoGradGuard no_grad;
      benchmark::DoNotOptimize(c->forward(x, grid, features).tokens.data_ptr());
    }
    state.SetIterationTime(seconds_since(t0));
  }
  set_counters(state, static_cast<double>(grid.tokens()), c->flops(grid) * (backward ? 3.0 : 1.0));
}

void bench_encoder_block(benchmark::State& state, const Shape& shape) {
  torch::manual_seed(0);
  const auto& e = shape.model.encoder;
  EncoderBlock block(e.width(), e.heads(), e.mlp_dim(), e.ln_eps());
  auto x = torch::randn({1, e.grid().tokens(), e.width()});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(block->forward(x).data_ptr());
    state.SetIterationTime(seconds_since(t0));
  }
  set_counters(state, static_cast<double>(e.grid().tokens()), encoder_block_flops(e, e.grid().tokens()));
}

// The whole encoder forward (patch embedding to the last block) on one
// request's images, no gradient: the inference path (`fused`) or the
// composition, with no compressor or LaCo (r = 2) after block k = 1/4 depth.
// One request: cpu-small's 5 crops; the paper preset at batch 1 (one 27 x 27
// grid of width 1152).
struct EncoderCase {
  Shape shape;
  bool laco;
  int64_t batch() const { return shape.name == "paper" ? 1 : find_preset(shape.name).crops; }
  int64_t block() const { return laco ? Placement::parse("1/4").resolve(shape.model.encoder.depth()) : 0; }
};

VisionEncoder build_encoder(const EncoderCase& c, bool fused) {
  torch::manual_seed(0);  // the same weights for both paths
  VisionEncoder encoder(EncoderOptions(c.shape.model.encoder).fused_inference(fused));
  encoder->eval();
  const int64_t k = c.block();
  if (c.laco) {
    torch::manual_seed(1);
    encoder->set_compressor(make_compressor("laco", CompressorOptions(encoder->options().width()).ratio(2).block(k)), k);
  }
  return encoder;
}

torch::Tensor encoder_images(const EncoderCase& c) {
  const auto& e = c.shape.model.encoder;
  torch::manual_seed(2);
  return torch::randn({c.batch(), e.channels(), e.image_size(), e.image_size()});
}

void bench_encoder(benchmark::State& state, EncoderCase c, bool fused) {
  auto encoder = build_encoder(c, fused);
  auto images = encoder_images(c);
  torch::NoGradGuard no_grad;
  encoder->forward(images);  // warm-up: first-touch pages and thread start-up stay out of the samples
  std::vector<double> times;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(encoder->forward(images).tokens.data_ptr());
    const double t = seconds_since(t0);
    state.SetIterationTime(t);
    times.push_back(t);
  }
  state.counters["median_ms"] = median(times) * 1e3;
}

// laco_bench --encoder-server=<shape>/<none|laco>: one encoder forward per
// request line, for a comparison in another process interleaved forward by
// forward (scripts/encoder_vs_pytorch.py). Prints one JSON line with the
// shapes, then answers each line "fused" or "composed" with the forward's
// milliseconds; "quit" or end of input ends it. Both paths hold the same weights.
int serve_encoder(const std::string& spec) {
  const auto slash = spec.find('/');
  const std::string shape_name = spec.substr(0, slash), placement = slash == std::string::npos ? "" : spec.substr(slash + 1);
  const auto all = shapes();
  const Shape* shape = nullptr;
  for (const auto& s : all)
    if (s.name == shape_name) shape = &s;
  if (!shape || (placement != "none" && placement != "laco")) {
    std::fprintf(stderr, "laco_bench: --encoder-server: '%s' is not <shape>/<placement> (allowed shapes: paper, "
                 "cpu-small; placements: none, laco)\n", spec.c_str());
    return 2;
  }
  const EncoderCase c{*shape, placement == "laco"};
  std::map<std::string, VisionEncoder> encoders{{"fused", build_encoder(c, true)}, {"composed", build_encoder(c, false)}};
  auto images = encoder_images(c);
  const auto& e = shape->model.encoder;
  std::printf("{\"batch\": %lld, \"block\": %lld, \"ratio\": 2, \"image_size\": %lld, \"patch_size\": %lld, "
              "\"channels\": %lld, \"width\": %lld, \"depth\": %lld, \"heads\": %lld, \"mlp_dim\": %lld, "
              "\"ln_eps\": %g, \"threads\": \"%s\", \"git_commit\": \"%s\"}\n",
              static_cast<long long>(c.batch()), static_cast<long long>(c.block()),
              static_cast<long long>(e.image_size()), static_cast<long long>(e.patch_size()),
              static_cast<long long>(e.channels()), static_cast<long long>(e.width()),
              static_cast<long long>(e.depth()), static_cast<long long>(e.heads()),
              static_cast<long long>(e.mlp_dim()), e.ln_eps(), describe_threads().c_str(), build_version().c_str());
  std::fflush(stdout);
  torch::NoGradGuard no_grad;
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    auto it = encoders.find(line);
    if (it == encoders.end()) {
      std::fprintf(stderr, "laco_bench: --encoder-server: unknown request '%s' (allowed: fused, composed, quit)\n",
                   line.c_str());
      return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(it->second->forward(images).tokens.data_ptr());
    std::printf("%.6f\n", seconds_since(t0) * 1e3);
    std::fflush(stdout);
  }
  return 0;
}

void bench_lm_layer(benchmark::State& state, const Shape& shape) {
  torch::manual_seed(0);
  const auto& l = shape.model.lm;
  DecoderLayer layer(l);
  DecoderLM lm(LmOptions(l).layers(1).vocab(16));  // for the RoPE tables only
  auto x = torch::randn({1, shape.lm_tokens, l.width()});
  auto [cos, sin] = lm->rope_tables(shape.lm_tokens, x.options());
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(layer->forward(x, cos, sin).data_ptr());
    state.SetIterationTime(seconds_since(t0));
  }
  set_counters(state, static_cast<double>(shape.lm_tokens), lm_layer_flops(l, shape.lm_tokens));
}

// The fused pack (methods/laco_pack.h) on one request's crops, against a
// memory copy moving the same bytes on the same threads, interleaved
// iteration by iteration: copy_fraction = the pack's bandwidth over the
// copy's (median copy time / median pack time). bytes: read x once, write S and A.
void bench_laco_pack(benchmark::State& state, const Shape& shape, int64_t r, int64_t crops) {
  torch::manual_seed(0);
  const auto& e = shape.model.encoder;
  const Grid grid = e.grid(), out = compressed_grid(grid, r);
  auto x = torch::randn({crops, grid.tokens(), e.width()});
  const double floats = static_cast<double>(crops * e.width()) *
                        static_cast<double>(grid.tokens() + out.tokens() * r * r + out.tokens());
  const auto copy_count = static_cast<int64_t>(floats / 2);  // a copy of n floats moves 2n
  auto src = torch::randn({copy_count}), dst = torch::zeros({copy_count});
  // Both write into buffers touched before, so neither pays for fresh pages.
  const LacoPacked into{torch::zeros({crops, out.tokens(), r * r * e.width()}), torch::zeros({crops, out.tokens(), e.width()})};
  std::vector<double> pack_s, copy_s;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(laco_pack_cpu(x, grid, r, kPackS | kPackA, into).s.data_ptr());
    const double t_pack = seconds_since(t0);
    state.SetIterationTime(t_pack);
    pack_s.push_back(t_pack);
    t0 = std::chrono::steady_clock::now();
    const float* from = src.data_ptr<float>();
    float* to = dst.data_ptr<float>();
    at::parallel_for(0, copy_count, 1 << 16, [&](int64_t begin, int64_t end) {
      std::memcpy(to + begin, from + begin, static_cast<size_t>(end - begin) * sizeof(float));
    });
    benchmark::ClobberMemory();
    copy_s.push_back(seconds_since(t0));
  }
  state.counters["bytes"] = benchmark::Counter(floats * 4, benchmark::Counter::kIsIterationInvariantRate);
  const double copy = median(copy_s), pack = median(pack_s);
  state.counters["copy_GBps"] = copy > 0 ? floats * 4 / copy / 1e9 : 0;
  state.counters["copy_fraction"] = pack > 0 ? copy / pack : 0;
}

// LACO_TOKENIZER_JSON and LACO_TOKENIZER_CORPUS override the files (the corpus: a JSON object with "cases":
// [{"text": ...}], as qwen_parity.json holds them).
void bench_tokenizer(benchmark::State& state) {
  const char* tok_env = std::getenv("LACO_TOKENIZER_JSON");
  const char* corpus_env = std::getenv("LACO_TOKENIZER_CORPUS");
  const std::string tok_path = tok_env ? tok_env : LACO_SOURCE_DIR "/../shared/tokenizers/qwen/tokenizer.json";
  const std::string corpus_path = corpus_env ? corpus_env : LACO_SOURCE_DIR "/tests/tokenizer/qwen_parity.json";
  nlohmann::json corpus;
  if (const auto problem = parse_json(read_file_bytes(corpus_path, InputLimit::kDataBytes), corpus); !problem.empty()) {
    state.SkipWithError((corpus_path + ": " + problem).c_str());
    return;
  }
  std::vector<std::string> texts;
  int64_t bytes = 0;
  for (const auto& c : corpus.at("cases")) {
    texts.push_back(c.at("text").get<std::string>());
    bytes += static_cast<int64_t>(texts.back().size());
  }
  const BpeTokenizer tok = BpeTokenizer::load(tok_path);
  int64_t tokens = 0;
  for (const auto& t : texts) tokens += static_cast<int64_t>(tok.encode(t).size());
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    int64_t n = 0;
    for (const auto& t : texts) n += static_cast<int64_t>(tok.encode(t).size());
    benchmark::DoNotOptimize(n);
    state.SetIterationTime(seconds_since(t0));
  }
  state.counters["tokens"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["strings"] = static_cast<double>(texts.size());
}

void register_all() {
  benchmark::RegisterBenchmark("tokenizer_encode/qwen", bench_tokenizer)->UseManualTime()->Unit(benchmark::kMillisecond);
  for (const auto& shape : shapes()) {
    // The grid methods on their own; the token reductions act inside blocks or the LM (efficiency runs time them).
    for (const auto& method : method_names(MethodSite::kAfterBlock))
      for (int64_t r : supported_ratios())
        for (bool backward : {false, true}) {
          if (find_method(method).reference && r != supported_ratios().front()) continue;  // the identity ignores r
          const std::string name =
              std::string(backward ? "method_fwd_bwd/" : "method_fwd/") + method + "/r" + std::to_string(r) + "/" + shape.name;
          benchmark::RegisterBenchmark(name.c_str(), bench_method, shape, method, r, backward)
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
    for (int64_t r : supported_ratios())
      benchmark::RegisterBenchmark(("laco_pack/r" + std::to_string(r) + "/" + shape.name).c_str(), bench_laco_pack,
                                   shape, r, find_preset(shape.name).crops)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("encoder_block_fwd/" + shape.name).c_str(), bench_encoder_block, shape)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    for (bool fused : {true, false})
      for (bool laco : {false, true}) {
        const std::string name = "encoder_fwd/" + shape.name + (fused ? "/fused" : "/composed") + (laco ? "/laco" : "/none");
        benchmark::RegisterBenchmark(name.c_str(), bench_encoder, EncoderCase{shape, laco}, fused)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    benchmark::RegisterBenchmark(("lm_layer_fwd/" + shape.name).c_str(), bench_lm_layer, shape)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace laco

int main(int argc, char** argv) {
  laco::ensure_passive_openmp(argv);
  const char* env = std::getenv("LACO_THREADS");
  laco::set_threads(env ? std::atoi(env) : 2);
  benchmark::AddCustomContext("laco.threads", laco::describe_threads());
  benchmark::AddCustomContext("laco.git_commit", laco::build_version());
  const std::string server = "--encoder-server=";
  if (argc == 2 && std::strncmp(argv[1], server.c_str(), server.size()) == 0)
    return laco::serve_encoder(argv[1] + server.size());
  laco::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
