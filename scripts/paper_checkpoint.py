#!/usr/bin/python3
"""A LLaVA-OneVision-0.5B-shaped checkpoint folder with random weights, for timing.

Why: this project's machines cannot download llava-hf/llava-onevision-qwen2-0.5b-ov-hf,
but what a question costs on them depends only on its shapes. This writes a folder
that `laco generate --model DIR` reads as it would read the released one: config.json
with the released model's shapes (SigLIP so400m/14 at 384 px, 26 layers of width 1152;
Qwen2-0.5B, 24 layers of width 896, vocabulary 152000; image_grid_pinpoints 384 x
{1..6} squared; anyres_max_9), model.safetensors (F16, 0.89B parameters, about 1.8
GB; weights drawn N(0, 0.02^2), norms 1, biases 0), the processor's files
(preprocessor_config.json at 384 px, chat_template.json, tokenizer_config.json) and
tokenizer.json derived from ../shared/tokenizers/qwen as the tests derive it
(scripts/llava_chat_fixtures.py). Its answers are noise; its timings are the
released model's on this machine, with the harness's float32 kernels.

Dev-time only (Debian's python3-torch, installed when missing). Usage:
  scripts/paper_checkpoint.py [--out /tmp/llava-ov-0.5b-random]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_fixtures as cf  # noqa: E402
import debian_torch  # noqa: E402
import llava_chat_fixtures as chat  # noqa: E402

SIZE, PATCH = 384, 14
VISION = dict(chat.VISION, hidden_size=1152, intermediate_size=4304, num_hidden_layers=26, num_attention_heads=16,
              image_size=SIZE, patch_size=PATCH)
TEXT = dict(chat.TEXT, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
            num_key_value_heads=2)
PINPOINTS = [[SIZE * i, SIZE * j] for i in range(1, 7) for j in range(1, 7)]
CONFIG = dict(chat.CONFIG, vision_config=VISION, text_config=TEXT, image_grid_pinpoints=PINPOINTS)
PREPROCESSOR = dict(chat.PREPROCESSOR, image_grid_pinpoints=PINPOINTS, size={"height": SIZE, "width": SIZE})
SCALE = {"matrix": 0.02, "embedding": 0.02, "bias": 0.0, "norm_bias": 0.0}


class PaperWeights(cf.Weights):
    def add(self, name, kind, shape):
        self.names.append(name)
        t = self.torch.ones(list(shape)) if kind == "norm_weight" else self.torch.randn(list(shape)) * SCALE[kind]
        self.t[name] = t.to(self.store)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/llava-ov-0.5b-random")
    args = ap.parse_args()
    debian_torch.ensure_torch("paper_checkpoint", "a timing checkpoint")
    import torch
    torch.manual_seed(0)
    w = chat.add_llava(PaperWeights(torch, torch.float16), VISION, TEXT)
    parent, name = os.path.split(os.path.abspath(args.out))
    cf.write_checkpoint(torch, parent, name, CONFIG, w)
    for file, obj in (("preprocessor_config.json", PREPROCESSOR), ("processor_config.json", dict(
            chat.PROCESSOR, num_image_tokens=(SIZE // PATCH) ** 2)), ("tokenizer_config.json", chat.TOKENIZER_CONFIG),
                      ("chat_template.json", {"chat_template": chat.CHAT_TEMPLATE}),
                      ("generation_config.json", chat.GENERATION_CONFIG)):
        cf.write_json(os.path.join(args.out, file), obj)
    with open(chat.SHARED_TOKENIZER, encoding="utf-8") as f:
        shared = json.load(f)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(chat.derived_tokenizer_json(shared, chat.TOKENIZER_CONFIG), f, ensure_ascii=False)
    params = sum(t.numel() for t in w.t.values())
    print(f"paper_checkpoint: {args.out}: {params / 1e9:.3f}B parameters (F16)")


if __name__ == "__main__":
    main()
