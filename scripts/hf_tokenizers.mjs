// hf_tokenizers.mjs: Hugging Face's tokenizers for the dev-time scripts
// (tokenizer_fixtures.mjs, llava_chat_prompt_ids.mjs, tokenizer_speed.mjs),
// loaded from $TOKFIX_DIR (default <os tmpdir>/tokfix) and installed there
// with npm, pinned, the first time it is missing: never into the repository,
// never a runtime dependency. Usage:
//   import { loadTokenizers } from './hf_tokenizers.mjs';
//   const { mod, version, dir } = loadTokenizers('@anush008/tokenizers');
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// @anush008/tokenizers 0.6.0: the Node binding of HF's Rust crate 0.22.2; @huggingface/tokenizers: HF's JS port.
export const PINNED = { '@anush008/tokenizers': '0.6.0', '@huggingface/tokenizers': '0.2.0' };

export function loadTokenizers(pkg) {
  if (!(pkg in PINNED)) throw new Error(`package must be one of ${Object.keys(PINNED).join(', ')}, got ${pkg}`);
  const dir = path.resolve(process.env.TOKFIX_DIR || path.join(os.tmpdir(), 'tokfix'));
  const req = createRequire(path.join(dir, 'package.json'));
  const tryLoad = () => {
    const mod = req(pkg);
    const pj = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', ...pkg.split('/'), 'package.json'), 'utf8'));
    return { mod, version: pj.version, dir };
  };
  try {
    return tryLoad();
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND' && err.code !== 'ENOENT') throw err;
  }
  const spec = `${pkg}@${PINNED[pkg]}`;
  console.error(`installing ${spec} into ${dir}`);
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir, spec],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  return tryLoad();
}
