// llava_chat_prompt_ids.mjs: token ids (and decodings) under one tokenizer.json, computed by
// Hugging Face's own `tokenizers`, for scripts/llava_chat_fixtures.py.
//
// Usage (from the repo root; needs node >= 18):
//   node scripts/llava_chat_prompt_ids.mjs TOKENIZER_JSON REQUEST_JSON OUT_JSON
// REQUEST_JSON: {"texts": ["...", ...], "decode": [[id, ...], ...]} (either list may be empty).
// OUT_JSON:     {"reference": "<package>@<version>", "ids": [[...], ...], "decoded": ["...", ...]}
// Each text is encoded as the LLaVA-OneVision processor's tokenizer(text) call does
// (add_special_tokens=true; the Qwen tokenizer.json's ByteLevel post-processor adds no
// tokens, and the script checks that add_special_tokens=false gives the same ids). Special
// tokens written in the text (<|im_start|>, <image>, ...) are matched as added tokens.
// "decoded" is decode(ids, skip_special_tokens=false).
//
// The reference is the npm package `@anush008/tokenizers` 0.6.0 (Node bindings of the Rust
// `tokenizers` crate, as scripts/tokenizer_fixtures.mjs uses). It is never installed into the
// repo: it is loaded from $TOKFIX_DIR (default <os tmpdir>/tokfix, the folder
// scripts/tokenizer_fixtures.mjs uses too) and, only when it is not there yet, installed into
// that folder with `npm install --prefix`. With the package already there, no network is used.

import fs from 'node:fs';
import path from 'node:path';

import { loadTokenizers, PINNED } from './hf_tokenizers.mjs';

const PKG = '@anush008/tokenizers';

async function main() {
  const [tokenizerPath, requestPath, outPath] = process.argv.slice(2);
  if (!tokenizerPath || !requestPath || !outPath) {
    throw new Error('usage: node scripts/llava_chat_prompt_ids.mjs TOKENIZER_JSON REQUEST_JSON OUT_JSON');
  }
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const { mod, version } = loadTokenizers(PKG);
  if (version !== PINNED[PKG]) throw new Error(`${PKG} ${version} found, ${PINNED[PKG]} expected`);
  const tok = mod.Tokenizer.fromFile(path.resolve(tokenizerPath));

  const ids = [];
  for (const text of request.texts || []) {
    const withSpecial = Array.from((await tok.encode(text, null, { addSpecialTokens: true })).getIds(), Number);
    const without = Array.from((await tok.encode(text, null, { addSpecialTokens: false })).getIds(), Number);
    if (JSON.stringify(withSpecial) !== JSON.stringify(without)) {
      throw new Error(`add_special_tokens changes the ids of ${JSON.stringify(text).slice(0, 60)}`);
    }
    ids.push(withSpecial);
  }
  const decoded = [];
  for (const seq of request.decode || []) decoded.push(await tok.decode(seq.map(Number), false));

  fs.writeFileSync(outPath, JSON.stringify({ reference: `${PKG}@${version}`, ids, decoded }) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
