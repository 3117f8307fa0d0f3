// tokenizer_speed.mjs: Hugging Face's tokenizers (the Rust crate through npm
// @anush008/tokenizers, as scripts/tokenizer_fixtures.mjs loads it from
// $TOKFIX_DIR, default <tmpdir>/tokfix) encoding the strings of
// tests/tokenizer/qwen_parity.json for about --seconds seconds; prints one JSON
// line {"reference", "mode", "tokens_per_s", "bytes_per_s", "passes"}.
// Modes: "batch" (encodeBatch over the corpus, one call a pass: the Rust core
// with little binding overhead; run with TOKENIZERS_PARALLELISM=false and
// RAYON_NUM_THREADS=1 for one thread) and "each" (one awaited encode per
// string: what a caller encoding prompts one at a time pays). Dev-time only,
// driven by scripts/tokenizer_speed.py. Usage:
//   node scripts/tokenizer_speed.mjs [--mode batch|each] [--seconds 1]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTokenizers } from './hf_tokenizers.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const mode = opt('--mode', 'batch');
const seconds = Number(opt('--seconds', '1'));
if (!['batch', 'each'].includes(mode)) throw new Error(`--mode must be batch or each, got ${mode}`);

const { mod, version } = loadTokenizers('@anush008/tokenizers');
const { Tokenizer } = mod;
const tokPath = process.env.LACO_TOKENIZER_JSON || path.join(repoRoot, '..', 'shared', 'tokenizers', 'qwen', 'tokenizer.json');
const corpusPath = process.env.LACO_TOKENIZER_CORPUS || path.join(repoRoot, 'tests', 'tokenizer', 'qwen_parity.json');
const texts = JSON.parse(fs.readFileSync(corpusPath, 'utf8')).cases.map((c) => c.text);
const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0);
const tok = Tokenizer.fromFile(tokPath);

async function pass() {
  let n = 0;
  if (mode === 'batch') {
    const encs = await tok.encodeBatch(texts, { addSpecialTokens: false });
    for (const e of encs) n += e.getIds().length;
  } else {
    for (const t of texts) n += (await tok.encode(t, null, { addSpecialTokens: false })).getIds().length;
  }
  return n;
}

const tokens = await pass();  // warm-up (and the cache, as laco_bench's first call warms its own)
let passes = 0;
const t0 = process.hrtime.bigint();
let elapsed = 0;
while (elapsed < seconds || passes < 3) {
  if ((await pass()) !== tokens) throw new Error('token count changed between passes');
  ++passes;
  elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
}
console.log(JSON.stringify({ reference: `@anush008/tokenizers@${version}`, mode, tokens_per_s: (tokens * passes) / elapsed,
  bytes_per_s: (bytes * passes) / elapsed, passes, tokens, strings: texts.length }));
