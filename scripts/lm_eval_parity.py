#!/usr/bin/env python3
"""Parity of `tessera serve` with lm-evaluation-harness's own Hugging Face backend, offline.

Builds, in a temporary directory:
  * a tiny GPT-2 from test/fixtures/hf_gpt2_tiny (its weights; the token table grown to a byte-level BPE of ~320
    tokens trained on the task text, so CJK and emoji split into tokens that are parts of characters, and the position
    table grown to 128), saved in Hugging Face's layout (config.json, model.safetensors, tokenizer.json,
    tokenizer_config.json), which both tessera and transformers load;
  * two local tasks (YAML + JSONL): a multiple_choice task (20 documents, choices with emoji / CJK) and a
    generate_until task (max_gen_toks 6).
Then runs lm-eval twice in this process:
  * `local-completions` against `tessera serve` with tokenizer_backend=remote (tokenizer from /tokenize,
    /detokenize and /tokenizer_info; no tokenizer files on the client side);
  * `hf` (transformers, float32, CPU) on the same directory;
and compares the per-sample results (log_samples): every log-likelihood within --tol (default 1e-4), is_greedy and
acc identical, generations identical (a generation that ends inside a multi-byte character ends in U+FFFD in both).
It also checks that the server's /tokenize agrees with the Hugging Face tokenizer on every text. lm-eval's environment report and its index of built-in tasks
are skipped (seconds each, irrelevant here); about 25 s in all on two cores.

Prints a JSON summary as the last line of stdout; exit 0 on parity, 1 on a mismatch, 2 on an error, 77 when a
dependency is missing (the message says which).

  /work/venv/bin/python scripts/lm_eval_parity.py [--node node] [--tol 1e-4] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "test" / "fixtures" / "hf_gpt2_tiny"
EOT = "<|endoftext|>"
MODEL_NAME = "tessera-parity"
BLOCK = 128
WTE_SCALE = 8.0

# multiple choice: (question, choices, answer index); the continuation is the choice itself (target_delimiter ""),
# so choices carry their leading space. CJK and emoji so that tokens split characters. The first GREEDY_DOCS documents
# get one more choice at run time: the model's own greedy continuation (so is_greedy is true somewhere).
MC_DOCS = [
    ("The cat sat on the", [" mat", " hat", " 🐈 cat"], 0),
    ("Tokyo is written", [" 東京", " 大阪", " 京都"], 0),
    ("A smiling face:", [" 🙂", " 🙁", " 😐"], 0),
    ("The capital of China is", [" 北京", " 上海", " Beijing 北京"], 0),
    ("Two plus two is", [" four", " five", " 四"], 0),
    ("Party time", [" 🎉🎉", " 🎈", " no party"], 0),
    ("日本語で「猫」は", ["ねこ", "いぬ", "とり"], 0),
    ("The opposite of hot is", [" cold", " warm", " 冷たい"], 0),
    ("Music symbol:", [" 𝄞 clef", " ♪", " ♫♬"], 0),
    ("Euro sign", [" €", " $", " £ pound"], 0),
    ("Korean hello:", [" 안녕하세요", " 감사합니다", " hello"], 0),
    ("A heart", [" ❤️", " 💔", " love"], 0),
    ("Greek letter", [" αβγ", " δ", " omega Ω"], 0),
    ("The sky is", [" blue", " green", " 蓝色"], 0),
    ("Fire:", [" 🔥", " 💧", "火"], 0),
    ("Thumbs", [" 👍", " 👎", " up"], 0),
    ("Mixed 中文 and English:", [" yes", " 是的", " no 不"], 0),
    ("Café au", [" lait", " thé", " café ☕"], 0),
    ("Rocket", [" 🚀 launch", " 🛸", " moon 🌕"], 0),
    ("Numbers in Chinese: 一二", ["三", "四五", " three"], 0),
]
GREEDY_DOCS = 6

GEN_DOCS = [
    ("Once upon a time", "there"),
    ("日本の首都は", "東京"),
    ("Emoji: 🙂", "🙂"),
    ("The quick brown fox", " jumps"),
    ("中文", "字"),
    ("Hello, world", "!"),
]


def write_tasks(root: Path, greedy: dict[int, str]) -> None:
    """The two tasks; greedy[i] is appended to document i's choices."""
    mc = root / "mc.jsonl"
    with mc.open("w", encoding="utf-8") as f:
        for i, (q, choices, a) in enumerate(MC_DOCS):
            extra = [greedy[i]] if greedy.get(i) and greedy[i] not in choices else []
            f.write(json.dumps({"question": q, "choices": choices + extra, "answer": a}, ensure_ascii=False) + "\n")
    gen = root / "gen.jsonl"
    with gen.open("w", encoding="utf-8") as f:
        for q, a in GEN_DOCS:
            f.write(json.dumps({"question": q, "answer": a}, ensure_ascii=False) + "\n")
    (root / "tessera_parity_mc.yaml").write_text(
        "\n".join(
            [
                "task: tessera_parity_mc",
                "dataset_path: json",
                "dataset_kwargs:",
                "  data_files:",
                f"    test: {json.dumps(str(mc))}",
                "test_split: test",
                "output_type: multiple_choice",
                "doc_to_text: question",
                "doc_to_choice: choices",
                "doc_to_target: answer",
                'target_delimiter: ""',
                "metric_list:",
                "  - metric: acc",
                "    aggregation: mean",
                "    higher_is_better: true",
                "",
            ]
        ),
        encoding="utf-8",
    )
    (root / "tessera_parity_gen.yaml").write_text(
        "\n".join(
            [
                "task: tessera_parity_gen",
                "dataset_path: json",
                "dataset_kwargs:",
                "  data_files:",
                f"    test: {json.dumps(str(gen))}",
                "test_split: test",
                "output_type: generate_until",
                'doc_to_text: "{{question}}"',
                'doc_to_target: "{{answer}}"',
                "generation_kwargs:",
                '  until: ["\\n\\n"]',
                "  max_gen_toks: 6",
                "  do_sample: false",
                "metric_list:",
                "  - metric: exact_match",
                "    aggregation: mean",
                "    higher_is_better: true",
                "",
            ]
        ),
        encoding="utf-8",
    )


def corpus_texts() -> list[str]:
    out = []
    for q, choices, _ in MC_DOCS:
        out.append(q)
        out.extend(q + c for c in choices)
    for q, a in GEN_DOCS:
        out.append(q + a)
    return out


def build_model(dst: Path) -> dict:
    """The fixture's weights with a byte-level BPE trained on the task text (vocabulary and positions grown).

    numpy + safetensors + tokenizers only (no torch / transformers). Deterministic for a given tokenizers version."""
    import numpy as np
    from safetensors.numpy import load_file, save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(corpus_texts() * 4, trainer)
    tk.add_special_tokens([EOT])
    tk.save(str(dst / "tokenizer.json"))
    vocab = tk.get_vocab_size()
    eot = tk.token_to_id(EOT)
    # what GPT2TokenizerFast.save_pretrained writes (transformers' AutoTokenizer reads it)
    tok_cfg = {
        "tokenizer_class": "GPT2TokenizerFast",
        "bos_token": EOT,
        "eos_token": EOT,
        "unk_token": EOT,
        "add_bos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": BLOCK,
        "errors": "replace",
    }
    (dst / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")

    tensors = load_file(str(FIXTURE / "model.safetensors"))
    rng = np.random.default_rng(1234)
    wte = tensors["transformer.wte.weight"]
    wpe = tensors["transformer.wpe.weight"]
    extra_tok = rng.standard_normal((vocab - wte.shape[0], wte.shape[1])).astype(np.float32) * np.float32(wte.std())
    extra_pos = rng.standard_normal((BLOCK - wpe.shape[0], wpe.shape[1])).astype(np.float32) * np.float32(wpe.std())
    # a larger token table than the fixture's (std 0.02) sharpens the tiny model's predictions
    new_wte = np.ascontiguousarray(np.concatenate([wte, extra_tok]) * np.float32(WTE_SCALE), dtype=np.float32)
    tensors["transformer.wte.weight"] = new_wte
    tensors["transformer.wpe.weight"] = np.ascontiguousarray(np.concatenate([wpe, extra_pos]), dtype=np.float32)
    tensors["lm_head.weight"] = new_wte.copy()
    save_file(tensors, str(dst / "model.safetensors"), metadata={"format": "pt"})

    cfg = json.loads((FIXTURE / "config.json").read_text())
    cfg.update(vocab_size=vocab, n_positions=BLOCK, n_ctx=BLOCK, bos_token_id=eot, eos_token_id=eot)
    (dst / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return {"vocab_size": vocab, "eot_id": eot, "context": BLOCK}


def start_server(node: str, model_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [node, str(REPO / "bin" / "tessera.js"), "serve", "--model", str(model_dir), "--port", "0", "--name", MODEL_NAME],
            cwd=str(REPO),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    deadline = time.time() + 60
    line = ""
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"at (http://127\.0\.0\.1:\d+)/v1", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError(f"tessera serve printed no URL (last line {line!r}); stderr in {log_path}: {log_path.read_text()[-2000:]}")


def greedy_choices(url: str) -> dict[int, str]:
    """The model's greedy 3-token continuations of the first GREEDY_DOCS questions (tessera's; the comparison with the
    HF backend checks that they are its greedy ones too)."""
    import requests

    prompts = [q for q, _, _ in MC_DOCS[:GREEDY_DOCS]]
    r = requests.post(f"{url}/v1/completions", json={"model": MODEL_NAME, "prompt": prompts, "max_tokens": 3, "temperature": 0}, timeout=60)
    r.raise_for_status()
    return {c["index"]: c["text"] for c in r.json()["choices"]}


def check_tokenizer(url: str, model_dir: Path) -> dict:
    """The server's /tokenize against the Hugging Face tokenizer (the same tokenizer.json) on every text."""
    import requests
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    info = requests.get(f"{url}/tokenizer_info", timeout=30).json()
    mismatches = []
    partial = 0
    texts = corpus_texts() + [EOT]
    for t in texts:
        remote = requests.post(f"{url}/tokenize", json={"prompt": t, "add_special_tokens": False}, timeout=30).json()["tokens"]
        local = hf.encode(t, add_special_tokens=False).ids
        if remote != local:
            mismatches.append({"text": t, "tessera": remote, "hf": local})
        partial += sum("\ufffd" in hf.decode([i]) for i in local)
    return {"texts": len(texts), "mismatches": mismatches, "partial_char_tokens": partial, "tokenizer_info": info}


def run_lm_eval(model: str, model_args: str, task_dir: Path, out: dict) -> dict:
    import lm_eval.evaluator as evaluator
    from lm_eval.tasks import TaskManager

    # lm-eval's environment report runs torch's collect_env (pip, conda and GPU probes: seconds) and imports
    # transformers; neither matters here
    evaluator.add_env_info = lambda storage: storage.update(pretty_env_info="skipped by lm_eval_parity.py")

    t0 = time.time()
    res = evaluator.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=["tessera_parity_mc", "tessera_parity_gen"],
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        batch_size=1,
        device="cpu",
        log_samples=True,
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0 if model == "hf" else None,  # None: the remote run never imports torch
        fewshot_random_seed=0,
    )
    out[model] = time.time() - t0
    return res


def per_sample(res: dict) -> dict:
    """task -> doc_id -> {'ll': [...], 'greedy': [...], 'acc': x} or {'gen': str, 'exact_match': x}."""
    out: dict = {}
    for task, samples in res["samples"].items():
        d = {}
        for s in samples:
            resps = s["resps"]
            if task.endswith("_mc"):
                d[s["doc_id"]] = {
                    "ll": [float(r[0][0]) for r in resps],
                    "greedy": [bool(r[0][1]) for r in resps],
                    "acc": float(s["acc"]),
                }
            else:
                d[s["doc_id"]] = {"gen": resps[0][0], "exact_match": float(s["exact_match"])}
        out[task] = d
    return out


def compare(a: dict, b: dict, tol: float) -> dict:
    max_diff = 0.0
    n_ll = 0
    problems = []
    for task in sorted(set(a) | set(b)):
        da, db = a.get(task, {}), b.get(task, {})
        if set(da) != set(db):
            problems.append(f"{task}: documents differ ({sorted(da)} vs {sorted(db)})")
            continue
        for doc in sorted(da):
            x, y = da[doc], db[doc]
            if "ll" in x:
                for i, (u, v) in enumerate(zip(x["ll"], y["ll"])):
                    n_ll += 1
                    diff = abs(u - v) if math.isfinite(u) and math.isfinite(v) else math.inf
                    max_diff = max(max_diff, diff)
                    if diff > tol:
                        problems.append(f"{task} doc {doc} choice {i}: log-likelihood {u} vs {v} (|Δ| {diff:.2e})")
                if x["greedy"] != y["greedy"]:
                    problems.append(f"{task} doc {doc}: is_greedy {x['greedy']} vs {y['greedy']}")
                if x["acc"] != y["acc"]:
                    problems.append(f"{task} doc {doc}: acc {x['acc']} vs {y['acc']}")
            elif x["gen"] != y["gen"]:
                problems.append(f"{task} doc {doc}: generation {x['gen']!r} vs {y['gen']!r}")
    return {"loglikelihoods": n_ll, "max_abs_diff": max_diff, "problems": problems}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--node", default=shutil.which("node") or "node", help="node executable")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    need = ["lm_eval", "torch", "transformers", "numpy", "tokenizers", "safetensors", "requests"]
    missing = []
    for mod in need:
        try:
            __import__(mod)
        except Exception as e:  # noqa: BLE001
            missing.append(f"{mod} ({type(e).__name__}: {e})")
    if missing:
        print(json.dumps({"skipped": f"cannot import {', '.join(missing)}"}))
        return 77

    tmp = Path(tempfile.mkdtemp(prefix="tessera-lm-eval-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ["HF_DATASETS_CACHE"] = str(tmp / "hf-datasets")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    summary: dict = {"tmp": str(tmp) if args.keep else None, "seconds": {}}
    proc = None
    t_start = time.time()
    try:
        model_dir = tmp / "model"
        task_dir = tmp / "tasks"
        model_dir.mkdir()
        task_dir.mkdir()
        summary["model"] = build_model(model_dir)
        proc, url = start_server(args.node, model_dir, tmp / "serve.log")
        summary["greedy_choices"] = greedy_choices(url)
        write_tasks(task_dir, summary["greedy_choices"])
        summary["tokenizer"] = check_tokenizer(url, model_dir)
        remote_args = f"model={MODEL_NAME},base_url={url}/v1/completions,tokenizer_backend=remote,max_length={BLOCK},num_concurrent=1,max_retries=1,timeout=120"
        remote = per_sample(run_lm_eval("local-completions", remote_args, task_dir, summary["seconds"]))
        hf = per_sample(run_lm_eval("hf", f"pretrained={model_dir},dtype=float32", task_dir, summary["seconds"]))
        summary["versions"] = {d: version(d) for d in ("lm_eval", "transformers", "torch", "tokenizers")}
        summary["comparison"] = compare(remote, hf, args.tol)
        summary["acc"] = {name: mean_acc(r) for name, r in (("tessera", remote), ("hf", hf))}
        summary["is_greedy_true"] = {name: sum(sum(d["greedy"]) for d in r["tessera_parity_mc"].values()) for name, r in (("tessera", remote), ("hf", hf))}
        summary["generations"] = {"tessera": [remote["tessera_parity_gen"][i]["gen"] for i in sorted(remote["tessera_parity_gen"])]}
        ok = not summary["comparison"]["problems"] and not summary["tokenizer"]["mismatches"]
        summary["ok"] = ok
        if not ok:
            summary["samples"] = {"tessera": remote, "hf": hf}
        summary["seconds"]["total"] = time.time() - t_start
        print(json.dumps(summary, ensure_ascii=False))
        return 0 if ok else 1
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        summary["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(summary, ensure_ascii=False))
        return 2
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def mean_acc(r: dict) -> float:
    mc = r.get("tessera_parity_mc", {})
    return sum(d["acc"] for d in mc.values()) / max(1, len(mc))


def version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(dist.replace("_", "-"))
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
