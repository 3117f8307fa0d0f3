#!/usr/bin/python3
"""lmms-eval `--log_samples` output for MME, TextVQA and POPE, written by lmms-eval's own code.

Writes, under --out (default tests/lmms_eval):
  mme/20261207_000000_results.json          what `lmms-eval --model llava_onevision --tasks mme
  mme/20261207_000000_samples_mme.jsonl      --log_samples --output_path DIR` writes into
                                             DIR/lmms-lab__llava-onevision-qwen2-0.5b-ov/ (lmms-eval
                                             @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3), for 8 synthetic
                                             MME questions (4 images x 2; existence, count:
                                             perception; commonsense_reasoning: cognition);
  textvqa_val/..._results.json, ..._samples_textvqa_val.jsonl   the same for 8 TextVQA questions;
  pope/..._results.json, ..._samples_pope.jsonl                 the same for 6 POPE questions;
  mme_v0.2.4/..._results.json, ..._samples_mme.jsonl            MME again as lmms-eval v0.2.4
                                             (af395ae1acf077e01db6dd6284de71a025fba061, the last
                                             release that names the perception score
                                             "mme_percetion_score" and keeps `doc` in the samples);
  <task>/bench.jsonl                         the same questions in laco's benchmark format
                                             (docs/benchmarks.md): id = lmms-eval's doc_id as a
                                             string (the row in the dataset split), the dataset's
                                             question/answer(s)/category, MME's question_id as
                                             image_id, images by relative path from
                                             tests/checkpoints/llava_onevision_chat_images/.

Why: evals/lmms_eval_log.cc reads lmms-eval's logs and evals/lmms_eval_rescore.cc rescores
them with laco's scorers (harness/score); their tests need logs in lmms-eval's exact layout
with lmms-eval's exact per-sample scores and aggregates. No model, dataset or GPU is
available here, so the documents and the model's responses are synthetic (chosen to exercise
MME's parse_pred_ans and TextVQA's EvalAI answer processor), and everything else is computed
by lmms-eval's own code, imported from the checkouts given on the command line:
  - tasks/<task>/utils.py: doc_to_text, process_results, the aggregation functions;
  - api/task.py ConfigurableTask (its real __init__, fewshot_context, doc_to_target,
    construct_requests, process_results, dump_config) over the synthetic docs, the filters
    ("none": take_first), api/metrics.py (mean, stderr);
  - evaluator_utils.py: TaskOutput (aggregates, stderr, CLT stderr), consolidate_results,
    consolidate_group_results, prepare_print_tasks, get_subtask_list;
  - loggers/evaluation_tracker.py: EvaluationTracker.save_results_aggregated and
    save_results_samples write the files (names, JSON layout, sample flattening);
  - utils.py: hash_string, get_git_commit_hash, is_multimodal_content, handle_non_serializable.
Two pieces of lmms-eval are inline code in evaluator.py and are mirrored here, each next to a
reference: the per-sample record of evaluate() and the results dict's assembly in evaluate()
and simple_evaluate(). Not reproduced: `config.resolved_cli_args` (the CLI's whole argparse
namespace, which a run from the command line adds) and `throughput` (llava_onevision's
timing log).

Stand-ins (the packages are not installed here; lmms-eval's code paths used above do not
depend on what they compute): numpy (std/sqrt for the CLT stderr, in plain Python), torch,
transformers, datasets, PIL (an Image class whose str() has no memory address), loguru,
jinja2 (templates without {{ or {% only: TextVQA's doc_to_target "answer" is such a
template), tenacity (@retry passes the function through), pyyaml, pytz, accelerate, tqdm,
huggingface_hub, sacrebleu, evaluate, dill, hf_transfer, sqlitedict. lmms-eval's package
__init__ files that import every task or model (lmms_eval.tasks, .loggers, .models) are not
run. Function addresses in `configs` are written as 0x7f0000000000. The clock is fixed: the
date id 20261207_000000 (get_datetime_str's "%Y%m%d_%H%M%S"), perf_counter 1000.0 -> 1002.5;
`git describe --always` answers what a clone at the commit answers ("v0.6-181-g75571cfe",
"af395ae1"), `git branch --show-current` "main".

Facts of the format these files show (each from lmms-eval's code, not from this script):
doc_hash is sha256("null") on every line (Instance.doc is never set); TextVQA's target is
the string "answer" and its exact_match is the integer 1 where Python's min(1, 3/3) is;
"submission,none" is null; stderr is "N/A" for custom aggregations and for n <= 1;
v0.2.4's samples keep `doc` (image columns dropped), write filtered_resps as a list and
"arguments" as the generation kwargs' keys.

Usage (the lmms-eval source, e.g. from `git archive` of each commit):
  /usr/bin/python3 scripts/lmms_eval_fixtures.py --lmms-eval /tmp/lmms-eval \\
      --lmms-eval-v024 /tmp/lmms-eval-v0.2.4 [--out tests/lmms_eval] [--check]
--check writes into a temporary folder and compares with --out byte for byte.
Deterministic: every run writes the same bytes.
"""
import argparse
import copy
import filecmp
import importlib
import importlib.abc
import importlib.machinery
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types

DATE_ID = "20261207_000000"  # utils.get_datetime_str(): "%Y%m%d_%H%M%S" (Asia/Singapore by default)
MODEL = "llava_onevision"
MODEL_ARGS = "pretrained=lmms-lab/llava-onevision-qwen2-0.5b-ov,conv_template=qwen_1_5,model_name=llava_qwen"
CURRENT_COMMIT = "75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3"
V024_COMMIT = "af395ae1acf077e01db6dd6284de71a025fba061"
GIT_DESCRIBE = {"current": "v0.6-181-g75571cfe", "v0.2.4": "af395ae1"}
IMAGES = "../../checkpoints/llava_onevision_chat_images/image{}.png"  # from tests/lmms_eval/<task>/

# --- the synthetic documents and responses -------------------------------------------------

# MME (lmms-lab/MME's columns: question_id names the image, two questions each).
MME_DOCS = [
    # question_id, category, question, answer, response (what parse_pred_ans makes of it)
    ("existence/0001.png", "existence", "Is there a dog in this image? Please answer yes or no.", "Yes", "Yes"),
    ("existence/0001.png", "existence", "Is there a cat in this image? Please answer yes or no.", "No", "no."),
    ("existence/0002.png", "existence", "Is there a bus in this image? Please answer yes or no.", "Yes", "Yes, it is"),
    ("existence/0002.png", "existence", "Is there a train in this image? Please answer yes or no.", "No", "The answer is yes"),  # other
    ("count/0003.png", "count", "Are there two people in the image? Please answer yes or no.", "Yes", "N"),  # no
    ("count/0003.png", "count", "Are there three people in the image? Please answer yes or no.", "No", "No"),
    ("commonsense_reasoning/0004.png", "commonsense_reasoning", "Should a driver stop at this sign? Please answer yes or no.", "Yes", " yes\n"),
    ("commonsense_reasoning/0004.png", "commonsense_reasoning", "Is it safe to drive on without stopping? Please answer yes or no.", "No", "Not sure."),  # "not " holds "no"
]

# TextVQA (lmms-lab/textvqa's columns; ten human answers each).
TEXTVQA_DOCS = [
    # question, answers, response
    ("what brand is the drink?", ["coca cola"] * 4 + ["coca-cola"] * 3 + ["coke"] * 2 + ["Coca Cola"], "Coca-Cola."),
    ("how many bottles are on the shelf?", ["2", "2", "two", "3", "3", "3", "3", "3", "three", "three"], "Two"),
    ("what does the sign say?", ["stop"] * 8 + ["stop sign", "a stop sign"], "The stop sign."),
    ("what is written on the shirt?", ["don't panic", "don't panic", "dont panic", "do not panic"] + ["panic"] * 6, "Dont panic!"),
    ("what is the price?", ["1,000", "1000", "1,000", "$1,000", "1000 yen", "1,000", "1000", "1000", "1,000", "one thousand"], "1,000"),
    ("whose phone is this?", ["john's"] * 3 + ["johns"] * 2 + ["john"] * 5, "John's"),
    ("what is the version number?", ["3.5"] * 5 + ["3,5", "v3.5", "version 3.5", "3.5.", "35"], "3.5."),
    ("what time does the clock show?", ["10:30"] * 6 + ["10.30", "half past ten", "1030", "10:30 am"], "I cannot tell."),
]

# POPE (lmms-lab/POPE's columns).
POPE_DOCS = [
    # question, answer, category, response
    ("Is there a dog in the image?", "yes", "adversarial", "Yes"),
    ("Is there a cat in the image?", "no", "adversarial", "No."),  # not exactly "no": wrong, no prediction
    ("Is there a bus in the image?", "yes", "popular", "yes, there is a bus."),
    ("Is there a car in the image?", "no", "popular", "yes"),
    ("Is there a person in the image?", "yes", "random", "no"),
    ("Is there a chair in the image?", "no", "random", "no"),
]

# --- the task YAMLs, as Python dicts (!function entries resolved after import) ----------------


def mme_yaml(utils, version):
    # lmms_eval/tasks/mme/mme.yaml; v0.2.4's differs in the dataset, the perception metric's
    # spelling and the absence of the "plm" prompt.
    old = version == "v0.2.4"
    kwargs = {
        "default": {"pre_prompt": "", "post_prompt": "\nAnswer the question using a single word or phrase."},
        "gpt4v": {"pre_prompt": "", "post_prompt": "\nAnswer the question with Yes or No."},
        "qwen_vl": {"pre_prompt": "", "post_prompt": " Answer:"},
        "otterhd": {"pre_prompt": "", "post_prompt": " Answer:"},
        "xcomposer2_4khd": {
            "pre_prompt": "[UNUSED_TOKEN_146]user\n",
            "post_prompt": " Answer this question briefly[UNUSED_TOKEN_145]\n[UNUSED_TOKEN_146]assistant\n",
        },
    }
    if not old:
        kwargs["plm"] = {"pre_prompt": "", "post_prompt": ""}
    return {
        "dataset_path": "lmms-lab/MME" if old else "lmms-lab-encoder/MME",
        "dataset_kwargs": {"token": True},
        "task": "mme",
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": utils.mme_doc_to_visual,
        "doc_to_text": utils.mme_doc_to_text,
        "doc_to_target": "answer",
        "generation_kwargs": {"max_new_tokens": 16, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False},
        "process_results": utils.mme_process_results,
        "metric_list": [
            {"metric": "mme_percetion_score" if old else "mme_perception_score", "aggregation": utils.mme_aggregate_results, "higher_is_better": True},
            {"metric": "mme_cognition_score", "aggregation": utils.mme_aggregate_results, "higher_is_better": True},
        ],
        "lmms_eval_specific_kwargs": kwargs,
        "metadata": [{"version": 0.0}],
    }


def textvqa_yaml(utils, version):
    # lmms_eval/tasks/textvqa/textvqa_val.yaml including _default_template_textvqa_yaml
    return {
        "dataset_path": "lmms-lab-encoder/textvqa",
        "output_type": "generate_until",
        "doc_to_visual": utils.textvqa_doc_to_visual,
        "doc_to_text": utils.textvqa_doc_to_text,
        "doc_to_target": "answer",
        "generation_kwargs": {"until": ["ASSISTANT:"]},
        "process_results": utils.textvqa_process_results,
        "lmms_eval_specific_kwargs": {
            "default": {"pre_prompt": "", "post_prompt": "\nAnswer the question using a single word or phrase.", "ocr": False},
            "qwen_vl": {"pre_prompt": "", "post_prompt": " Answer:"},
            "plm": {"pre_prompt": "", "post_prompt": "\nProvide a short and direct response."},
        },
        "task": "textvqa_val",
        "test_split": "validation",
        "metric_list": [
            {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True, "ignore_case": True, "ignore_punctuation": True},
            {"metric": "submission", "aggregation": utils.textvqa_aggregate_submissions, "higher_is_better": True},
        ],
    }


def pope_yaml(utils, version):
    # lmms_eval/tasks/pope/pope.yaml
    metrics = ["accuracy", "precision", "recall", "f1_score", "yes_ratio"]
    return {
        "dataset_path": "lmms-lab-encoder/POPE",
        "dataset_kwargs": {"token": True},
        "task": "pope",
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_visual": utils.pope_doc_to_visual,
        "doc_to_text": utils.pope_doc_to_text,
        "doc_to_target": "answer",
        "generation_kwargs": {"max_new_tokens": 128, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False},
        "process_results": utils.pope_process_results,
        "metric_list": [
            {"metric": f"pope_{m}", "aggregation": getattr(utils, f"pope_aggregate_{m}"), "higher_is_better": True} for m in metrics
        ],
        "lmms_eval_specific_kwargs": {
            "default": {"pre_prompt": "", "post_prompt": "\nAnswer the question using a single word or phrase."},
            "plm": {"pre_prompt": "", "post_prompt": "\nYour response must be concise."},
        },
        "metadata": [{"version": 0.0}],
    }


# --- stand-ins for the packages lmms-eval imports ----------------------------------------------


class _AnyMeta(type):
    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()


class _Anything(metaclass=_AnyMeta):
    """Any object of an absent package: callable, indexable, with any attribute; does nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything()

    def __getitem__(self, key):
        return _Anything()

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter(())

    def __bool__(self):
        return False

    def __or__(self, other):
        return _Anything()


class _StubModule(types.ModuleType):
    """A module whose every missing attribute is a fresh stand-in class."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if f"{self.__name__}.{name}" in STUBS:  # `from PIL import Image`: the submodule
            return importlib.import_module(f"{self.__name__}.{name}")
        cls = _AnyMeta(name, (_Anything,), {})
        setattr(self, name, cls)
        return cls


def _numpy_stub(mod):
    # np.std(x, ddof=1) and np.sqrt as evaluator_utils.calculate_clt_aggregate_metric uses them.
    def std(values, ddof=0):
        values = [float(v) for v in values]
        mean = sum(values) / len(values)
        return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - ddof))

    mod.std = std
    mod.sqrt = math.sqrt
    mod.float64 = float
    mod.int64 = _AnyMeta("int64", (_Anything,), {})
    mod.int32 = _AnyMeta("int32", (_Anything,), {})
    mod.ndarray = _AnyMeta("ndarray", (_Anything,), {})


class _PilImage:
    """PIL.Image.Image stand-in: what a dataset's image column holds, printed without an address."""

    def __init__(self, index):
        self.index = index

    def convert(self, mode):
        return self

    def __str__(self):
        return "<PIL.PngImagePlugin.PngImageFile image mode=RGB size=24x24>"

    __repr__ = __str__


def _pil_image_stub(mod):
    mod.Image = _PilImage


class _JinjaTemplate:
    def __init__(self, text):
        if "{{" in text or "{%" in text:
            raise RuntimeError(f"jinja2 stand-in: template {text!r} needs real jinja2")
        self.text = text

    def render(self, **kwargs):
        return self.text


class _JinjaEnvironment:
    def __init__(self, *args, **kwargs):
        self.filters = {}

    def from_string(self, text):
        return _JinjaTemplate(text)


def _jinja_stub(mod):
    mod.Environment = _JinjaEnvironment


def _tenacity_stub(mod):
    # @retry(...) on ConfigurableTask.process_results and download: no retrying, the function itself.
    mod.retry = lambda *args, **kwargs: (lambda fn: fn)


STUBS = {
    "tenacity": _tenacity_stub,
    "numpy": _numpy_stub,
    "PIL.Image": _pil_image_stub,
    "jinja2": _jinja_stub,
}
STUB_ROOTS = {
    "numpy", "torch", "transformers", "datasets", "PIL", "loguru", "pytz", "jinja2", "yaml",
    "accelerate", "tenacity", "tqdm", "huggingface_hub", "sacrebleu", "evaluate", "dill", "hf_transfer", "sqlitedict",
}
# Packages whose __init__ imports every task, model or logger: loaded empty.
SKIP_INIT = {"lmms_eval.tasks", "lmms_eval.loggers", "lmms_eval.models"}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, checkout):
        self.root = os.path.join(checkout, "lmms_eval")

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in STUB_ROOTS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if fullname in SKIP_INIT:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        if fullname == "lmms_eval":
            return importlib.machinery.PathFinder.find_spec(fullname, [os.path.dirname(self.root)])
        return None

    def create_module(self, spec):
        mod = _StubModule(spec.name)
        if spec.name in SKIP_INIT:
            mod = types.ModuleType(spec.name)
            mod.__path__ = [os.path.join(self.root, *spec.name.split(".")[1:])]
        else:
            mod.__path__ = []
        return mod

    def exec_module(self, module):
        if module.__name__ in STUBS:
            STUBS[module.__name__](module)


def install_stubs(checkout):
    sys.meta_path.insert(0, _Finder(checkout))
    sys.dont_write_bytecode = True


# --- one lmms-eval version: run its code, let its tracker write the files ---------------------


class _Docs(list):
    """A dataset split: a list of docs with .features; each access returns a fresh copy, as a
    datasets.Dataset row access does (process_results may change its doc in place: TextVQA's
    normalises doc["answers"]; the request's doc, which doc_hash hashes, stays as loaded)."""

    def __init__(self, docs):
        super().__init__(docs)
        self.features = {k: None for k in docs[0]}

    def __getitem__(self, i):
        return copy.deepcopy(list.__getitem__(self, i))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def make_docs(task):
    if task == "mme":
        return [
            {"question_id": qid, "image": _PilImage(i // 2), "question": q, "answer": a, "category": c}
            for i, (qid, c, q, a, _) in enumerate(MME_DOCS)
        ], [d[4] for d in MME_DOCS]
    if task == "textvqa_val":
        docs = []
        for i, (q, answers, _) in enumerate(TEXTVQA_DOCS):
            docs.append(
                {
                    "image_id": f"{0x3a8ae2ef43b901 + i:016x}",
                    "question_id": 34602 + i,
                    "question": q,
                    "question_tokens": q.rstrip("?").split(" ") + ["?"],
                    "image": _PilImage(i % 4),
                    "image_width": 1024,
                    "image_height": 768,
                    "answers": list(answers),
                    "image_classes": ["Bottle"],
                    "set_name": "val",
                    "ocr_tokens": ["coca", "cola"],
                }
            )
        return docs, [d[2] for d in TEXTVQA_DOCS]
    if task == "pope":
        return [
            {"id": str(i), "question_id": str(i + 1), "question": q, "answer": a, "image_source": f"COCO_val2014_{i:012d}",
             "image": _PilImage(i % 4), "category": c}
            for i, (q, a, c, _) in enumerate(POPE_DOCS)
        ], [d[3] for d in POPE_DOCS]
    raise ValueError(task)


def generate(version, checkout, out_dir, tasks):
    install_stubs(checkout)
    import lmms_eval.utils as lutils
    import lmms_eval.api.task as api_task
    import lmms_eval.evaluator_utils as evaluator_utils
    import lmms_eval.loggers.evaluation_tracker as tracker_module

    # A clone at the commit: what `git describe --always` and `git branch --show-current` answer.
    if hasattr(lutils, "_git_output"):
        lutils._git_output = lambda *args: {"describe": GIT_DESCRIBE[version], "branch": "main"}[args[0]]
    else:
        lutils.subprocess = types.SimpleNamespace(
            check_output=lambda cmd, **kw: (GIT_DESCRIBE[version] + "\n").encode(),
            CalledProcessError=subprocess.CalledProcessError,
        )
    clock = iter([1000.0, 1002.5])
    tracker_module.time = types.SimpleNamespace(perf_counter=lambda: next(clock))

    tracker = tracker_module.EvaluationTracker(output_path=os.path.join(out_dir, "run"))
    tracker.general_config_tracker.log_experiment_args(
        model_source=MODEL, model_args=MODEL_ARGS, system_instruction=None, chat_template=None,
        fewshot_as_multiturn=False,
    )

    all_results = {}
    for task_name in tasks:
        folder = {"textvqa_val": "textvqa"}.get(task_name, task_name)
        utils_module = importlib.import_module(f"lmms_eval.tasks.{folder}.utils")
        yaml = {"mme": mme_yaml, "textvqa_val": textvqa_yaml, "pope": pope_yaml}[task_name](utils_module, version)
        docs, responses = make_docs(task_name)
        results, samples = run_task(version, api_task, evaluator_utils, lutils, yaml, docs, responses, out_dir)
        all_results[task_name] = (results, samples)

    for task_name, (results, samples) in all_results.items():
        # lmms_eval/__main__.py cli_evaluate_single: samples popped, then the tracker writes.
        tracker.save_results_aggregated(results=results, samples=samples, datetime_str=DATE_ID)
        for name in results["configs"]:
            tracker.save_results_samples(task_name=name, samples=samples[name])


def run_task(version, api_task, evaluator_utils, lutils, yaml, docs, responses, out_dir):
    split = yaml["test_split"]

    class LocalTask(api_task.ConfigurableTask):
        """ConfigurableTask over the synthetic docs: download() loads them instead of the Hub's."""

        def download(self, dataset_kwargs=None):
            self.dataset = {split: _Docs(docs)}
            self.dataset_no_image = self.dataset

    task = LocalTask(config=copy.deepcopy(yaml), model_name=MODEL)
    task.set_config(key="num_fewshot", value=0)  # simple_evaluate's _adjust_config: no num_fewshot given
    task_name = task.config.task
    # A parsed `--limit`-less run's argument object, as textvqa's submission aggregation reads it.
    task.args = types.SimpleNamespace(output_path=os.path.join(out_dir, "submissions_scratch"))

    # build_all_requests (api/task.py 75571cfe lines 428-533, v0.2.4 lines 382-461) for one rank
    # without a cache: the zero-shot context and one request per doc.
    instances = []
    for doc_id, doc in task.doc_iterator(rank=0, limit=None, world_size=1):
        num_fewshot = 0 if task.config.num_fewshot is None else task.config.num_fewshot
        ctx = task.fewshot_context(doc, num_fewshot, None, False, False, None)
        metadata = {"task": task.config["task"], "doc_id": doc_id, "repeats": task.config.repeats, "split": split}
        inst = task.construct_requests(doc_id=doc_id, ctx=ctx, metadata=metadata)
        instances.extend(inst if isinstance(inst, list) else [inst])
    task._instances = instances
    for inst in instances:  # the model's generate_until answer for each request
        inst.resps.append(responses[inst.doc_id])
    task.apply_filters()

    task_output = evaluator_utils.TaskOutput.from_taskdict(task_name, task)
    by_doc = {}
    for inst in instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    for filter_key in instances[0].filtered_resps.keys():
        for doc_id, doc in task.doc_iterator(rank=0, limit=None, world_size=1):
            requests = by_doc[doc_id]
            metrics = task.process_results(doc, [req.filtered_resps[filter_key] for req in requests])
            record = sample_record(version, task, lutils, doc_id, doc, requests, filter_key, metrics)
            task_output.logged_samples.append(record)
            for metric, value in metrics.items():
                task_output.sample_metrics[(metric, filter_key)].append(value)

    # evaluate(): aggregate, consolidate, print-tasks; then the results dict (evaluator.py
    # 75571cfe lines 1408-1467; v0.2.4 lines 565-622).
    task_output.calculate_aggregate_metric(bootstrap_iters=100000)
    for extra in ("calculate_clt_aggregate_metric", "calculate_stability_metrics"):
        if hasattr(task_output, extra):
            getattr(task_output, extra)()
    eval_tasks = [task_output]
    task_dict = {task_name: task}
    consolidated = evaluator_utils.consolidate_results(eval_tasks)
    results, samples, configs, versions, num_fewshot, higher_is_better = consolidated
    if bool(results):
        results, versions, show_group_table, *_ = evaluator_utils.consolidate_group_results(results, versions, task_dict)
    results_agg, group_agg = evaluator_utils.prepare_print_tasks(task_dict, results)
    subtask_list = evaluator_utils.get_subtask_list(task_dict)
    results_dict = {
        "results": dict(results_agg.items()),
        **({"groups": dict(group_agg.items())} if (bool(group_agg) & show_group_table) else {}),
        "group_subtasks": dict(reversed(subtask_list.items())),
        "configs": dict(sorted(configs.items())),
        "versions": dict(sorted(versions.items())),
        "n-shot": dict(sorted(num_fewshot.items())),
        "higher_is_better": dict(sorted(higher_is_better.items())),
        "n-samples": {
            t.task_name: {"original": len(t.task.eval_docs), "effective": len(t.task.eval_docs)} for t in eval_tasks
        },
        "samples": dict(samples),
    }
    shutil.rmtree(task.args.output_path, ignore_errors=True)  # textvqa's submission file: not part of the log
    return simple_evaluate_tail(version, lutils, results_dict, task)


def sample_record(version, task, lutils, doc_id, doc, requests, filter_key, metrics):
    """evaluate()'s per-sample record (evaluator.py 75571cfe lines 1215-1300; v0.2.4 lines 478-527)."""
    target = task.doc_to_target(doc)
    filtered_arguments = []
    for req in requests:
        for value in req.args:
            if isinstance(value, (str, int, float, bool, list, dict, type(None))):
                filtered_arguments.append(value)
    request_doc = json.dumps(requests[0].doc, indent=2, default=lutils.handle_non_serializable, ensure_ascii=False)
    doc_hash = lutils.hash_string(request_doc)
    if version == "v0.2.4":
        example = {
            "doc_id": doc_id,
            "doc": {key: value for key, value in doc.items() if "image" not in key},
            "target": target,
            "arguments": filtered_arguments,
            "resps": [req.resps for req in requests],
            "filtered_resps": [req.filtered_resps[filter_key] for req in requests],
            "doc_hash": doc_hash,
            "prompt_hash": lutils.hash_string(requests[0].arguments[0]),
            "target_hash": lutils.hash_string(str(target)),
        }
    else:
        example = {
            "doc_id": doc_id,
            "doc": {key: value for key, value in doc.items() if not lutils.is_multimodal_content(value)},
            "target": target,
            "arguments": filtered_arguments,
            "resps": [req.raw_filtered_resps.get(filter_key, req.resps) for req in requests],
            "filtered_resps": [req.filtered_resps[filter_key] for req in requests],
            "token_counts": [None for _ in requests],  # the model reported no token counts
            "doc_hash": doc_hash,
        }
    example.update(metrics)
    return example


def simple_evaluate_tail(version, lutils, results, task):
    """What simple_evaluate() adds on rank 0 (evaluator.py 75571cfe lines 551-603; v0.2.4 lines
    263-299), for `--model llava_onevision --model_args ... --log_samples` from the CLI
    (batch_size "1", device None), then __main__'s samples pop."""
    results["config"] = {"model": MODEL, "model_args": MODEL_ARGS}
    if version == "v0.2.4":
        results["config"].update(
            {
                "batch_size": "1",
                "batch_sizes": [],
                "device": None,
                "use_cache": None,
                "limit": None,
                "bootstrap_iters": 100000,
                "gen_kwargs": "",
                "random_seed": 0,
                "numpy_seed": 1234,
                "torch_seed": 1234,
                "fewshot_seed": 1234,
            }
        )
        results["git_hash"] = lutils.get_git_commit_hash()
        results["date"] = DATE_ID
    else:
        from lmms_eval.models.model_utils.efficiency_metrics import build_efficiency_summary
        from lmms_eval.models.model_utils.usage_metrics import summarize_usage_metrics

        results["config"].update(
            {
                "model_backend": "lmms_eval.models.simple.llava_onevision.Llava_OneVision (simple)",
                "batch_size": "1",
                "batch_sizes": [],
                "device": None,
                "use_cache": None,
                "limit": None,
                "offset": 0,
                "bootstrap_iters": 100000,
                "gen_kwargs": "",
                "random_seed": 0,
                "numpy_seed": 1234,
                "torch_seed": 1234,
                "fewshot_seed": 1234,
            }
        )
        results["git_hash"] = lutils.get_git_commit_hash()
        results["git_branch"] = lutils.get_git_branch_name()
        results["lmms_eval_version"] = lutils.get_lmms_eval_version_string()
        results["date"] = DATE_ID
        results["usage"] = summarize_usage_metrics()
        efficiency = build_efficiency_summary(results)
        if efficiency:
            results["efficiency"] = efficiency
    samples = results.pop("samples")
    results["configs"] = fixed_addresses(results["configs"])
    return results, samples


def fixed_addresses(value):
    """The configs with every function as str() prints it ("<function mme_process_results at
    0x7f...>", what TaskConfig.to_dict and handle_non_serializable write) but at one fixed
    address: the real one changes from run to run."""
    if isinstance(value, dict):
        return {k: fixed_addresses(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fixed_addresses(v) for v in value]
    if isinstance(value, types.FunctionType):
        value = str(value)
    if isinstance(value, str):
        return re.sub(r"^(<function \S+ at )0x[0-9a-f]+>$", r"\g<1>0x7f0000000000>", value)
    return value


# --- laco's benchmark file with the same questions ------------------------------------------


def bench_lines(task):
    lines = []
    if task == "mme":
        for i, (qid, c, q, a, _) in enumerate(MME_DOCS):
            lines.append({"id": str(i), "image": IMAGES.format(i // 2), "question": q, "answer": a, "category": c, "image_id": qid})
    elif task == "textvqa_val":
        for i, (q, answers, _) in enumerate(TEXTVQA_DOCS):
            lines.append({"id": str(i), "image": IMAGES.format(i % 4), "question": q, "answers": answers})
    elif task == "pope":
        for i, (q, a, c, _) in enumerate(POPE_DOCS):
            lines.append({"id": str(i), "image": IMAGES.format(i % 4), "question": q, "answer": a, "category": c})
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# --- driver ------------------------------------------------------------------------------------

MODEL_DIR = "lmms-lab__llava-onevision-qwen2-0.5b-ov"  # sanitize_model_name of the pretrained= value
RUNS = [  # folder under --out, lmms-eval version, task
    ("mme", "current", "mme"),
    ("textvqa_val", "current", "textvqa_val"),
    ("pope", "current", "pope"),
    ("mme_v0.2.4", "v0.2.4", "mme"),
]


def check_checkout(path, commit_marker, what):
    tracker = os.path.join(path, "lmms_eval", "loggers", "evaluation_tracker.py")
    if not os.path.isfile(tracker):
        sys.exit(f"lmms_eval_fixtures: {path} holds no lmms_eval/loggers/evaluation_tracker.py ({what})")
    text = open(tracker, encoding="utf-8").read()
    if commit_marker not in text:
        sys.exit(f"lmms_eval_fixtures: {path} is not lmms-eval {what} ({commit_marker!r} missing from its evaluation_tracker.py)")


def write_all(args, out):
    for folder, version, task in RUNS:
        checkout = args.lmms_eval if version == "current" else args.lmms_eval_v024
        with tempfile.TemporaryDirectory() as scratch:
            subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", version, checkout, scratch, task],
                check=True,
                cwd=scratch,
                env=dict(os.environ, PYTHONHASHSEED="0", TZ="UTC"),
            )
            made = os.path.join(scratch, "run", MODEL_DIR)
            names = sorted(os.listdir(made))
            expected = [f"{DATE_ID}_results.json", f"{DATE_ID}_samples_{task}.jsonl"]
            if names != expected:
                sys.exit(f"lmms_eval_fixtures: lmms-eval {version} wrote {names}, expected {expected}")
            dest = os.path.join(out, folder)
            if os.path.isdir(dest):
                shutil.rmtree(dest)
            os.makedirs(dest)
            for name in names:
                shutil.copyfile(os.path.join(made, name), os.path.join(dest, name))
            if version == "current":
                with open(os.path.join(dest, "bench.jsonl"), "w", encoding="utf-8") as f:
                    f.write(bench_lines(task))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        version, checkout, scratch, task = sys.argv[2:6]
        generate(version, checkout, scratch, [task])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmms-eval", required=True, help=f"lmms-eval source at {CURRENT_COMMIT}")
    parser.add_argument("--lmms-eval-v024", required=True, help=f"lmms-eval source at v0.2.4 ({V024_COMMIT})")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lmms_eval"))
    parser.add_argument("--check", action="store_true", help="compare a fresh run with --out instead of writing it")
    args = parser.parse_args()
    args.lmms_eval = os.path.abspath(args.lmms_eval)
    args.lmms_eval_v024 = os.path.abspath(args.lmms_eval_v024)
    check_checkout(args.lmms_eval, "Flatten the per-request wrapper", CURRENT_COMMIT)
    check_checkout(args.lmms_eval_v024, 'enumerate(sample["arguments"][1])', "v0.2.4")
    out = os.path.abspath(args.out)
    if not args.check:
        write_all(args, out)
        print(f"lmms_eval_fixtures: wrote {', '.join(folder for folder, _, _ in RUNS)} under {out}")
        return
    with tempfile.TemporaryDirectory() as fresh:
        write_all(args, fresh)
        bad = []
        for folder, _, _ in RUNS:
            cmp = filecmp.dircmp(os.path.join(fresh, folder), os.path.join(out, folder))
            names = cmp.common_files
            bad += [f"{folder}/{n}" for n in cmp.left_only + cmp.right_only]
            for n in names:
                if not filecmp.cmp(os.path.join(fresh, folder, n), os.path.join(out, folder, n), shallow=False):
                    bad.append(f"{folder}/{n}")
        if bad:
            sys.exit(f"lmms_eval_fixtures: differ from a fresh run: {', '.join(bad)}")
        print(f"lmms_eval_fixtures: {out} is what a fresh run writes")


if __name__ == "__main__":
    main()
