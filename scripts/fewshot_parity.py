#!/usr/bin/env python3
"""Parity of `tessera eval` with lm-evaluation-harness's own evaluation (its `hf` backend), offline.

Builds the tiny GPT-2 of scripts/lm_eval_parity.py in a temporary directory (Hugging Face layout, which both tessera and
transformers load), then evaluates the same YAML tasks with both:
  * lm-eval 0.4.13 `simple_evaluate(model="hf", …)` in this process (fewshot seed 1234, log_samples);
  * `node bin/tessera.js eval --model DIR --tasks … --include-path DIR --output-path OUT` (no request cache);
and compares, task by task and document by document: every request's arguments (the prompts, byte for byte), every
log-likelihood (within --tol) and is_greedy, every generation (exact), every per-document metric, and every aggregated
metric and standard error in results.json.

Prints a JSON summary as the last line of stdout; exit 0 on parity, 1 on a mismatch, 2 on an error, 77 when a dependency
is missing.

  /work/venv/bin/python scripts/fewshot_parity.py --tasks-dir test/fixtures/fewshot/tasks --tasks a,b [--num-fewshot 0,2]
      [--limit 8] [--tol 1e-4] [--node node] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))


def task_yaml_dir(task_dir: Path, task: str) -> Path:
    """The directory of the YAML that defines `task` (the harness resolves relative data_files against the cwd)."""
    import re

    for y in sorted(task_dir.rglob("*.yaml")):
        if re.search(rf"^task:\s*['\"]?{re.escape(task)}['\"]?\s*$", y.read_text(encoding="utf-8"), re.M):
            return y.parent
    raise FileNotFoundError(f"no YAML under {task_dir} defines task {task}")


def run_harness(model_dir: Path, task_dir: Path, tasks: list[str], k: int, limit: int | None) -> dict:
    """One simple_evaluate per task, each run from its YAML's directory; results and samples merged."""
    import lm_eval.evaluator as evaluator
    from lm_eval.tasks import TaskManager

    evaluator.add_env_info = lambda storage: storage.update(pretty_env_info="skipped by fewshot_parity.py")
    merged: dict = {"results": {}, "samples": {}}
    cwd = os.getcwd()
    tm = TaskManager(include_path=str(task_dir), include_defaults=False)
    for t in tasks:
        os.chdir(task_yaml_dir(task_dir, t))
        try:
            r = evaluator.simple_evaluate(
                model="hf",
                model_args=f"pretrained={model_dir},dtype=float32",
                tasks=[t],
                num_fewshot=k,
                limit=limit,
                task_manager=tm,
                batch_size=1,
                device="cpu",
                log_samples=True,
                bootstrap_iters=100000,
                random_seed=0,
                numpy_random_seed=1234,
                torch_random_seed=1234,
                fewshot_random_seed=1234,
            )
        finally:
            os.chdir(cwd)
        merged["results"].update(r["results"])
        merged["samples"].update(r["samples"])
    return merged


def run_tessera(node: str, model_dir: Path, task_dir: Path, tasks: list[str], k: int, limit: int | None, out: Path) -> dict:
    cmd = [node, str(REPO / "bin" / "tessera.js"), "eval", "--model", str(model_dir), "--tasks", ",".join(tasks),
           "--include-path", str(task_dir), "--num-fewshot", str(k), "--output-path", str(out), "--no-cache", "--quiet"]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    p = subprocess.run(cmd, cwd=str(task_dir), capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"tessera eval failed ({p.returncode}): {p.stderr[-3000:]}")
    res = json.loads((out / "results.json").read_text())
    samples = {}
    for t in tasks:
        samples[t] = [json.loads(line) for line in (out / f"samples_{t}.jsonl").read_text().splitlines() if line.strip()]
    return {"results": res["results"], "samples": samples}


def as_float(x) -> float:
    return float(x)


def close(a: float, b: float, tol: float) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def compare(hf: dict, ts: dict, tasks: list[str], tol: float) -> list[str]:
    problems: list[str] = []
    for t in tasks:
        hs = {(s["doc_id"], s["filter"]): s for s in hf["samples"][t]}
        tss = {(s["doc_id"], s["filter"]): s for s in ts["samples"][t]}
        if set(hs) != set(tss):
            problems.append(f"{t}: documents/filters differ: harness {sorted(hs)[:5]}…, tessera {sorted(tss)[:5]}…")
            continue
        for key, h in hs.items():
            s = tss[key]
            h_args = [list(a) for a in h["arguments"]]
            s_args = [[s["arguments"][g][a] for a in sorted(s["arguments"][g], key=lambda x: int(x[4:]))] for g in sorted(s["arguments"], key=lambda x: int(x[9:]))]
            for i, (ha, sa) in enumerate(zip(h_args, s_args)):
                if str(ha[0]) != str(sa[0]):
                    problems.append(f"{t} doc {key}: request {i} context differs:\n  harness {ha[0]!r}\n  tessera {sa[0]!r}")
                if len(ha) > 1 and isinstance(ha[1], str) and ha[1] != sa[1]:
                    problems.append(f"{t} doc {key}: request {i} continuation differs: {ha[1]!r} vs {sa[1]!r}")
            if len(h_args) != len(s_args):
                problems.append(f"{t} doc {key}: {len(h_args)} requests vs {len(s_args)}")
            for i, (hr, sr) in enumerate(zip(h["filtered_resps"], s["filtered_resps"])):
                if isinstance(hr, (tuple, list)):
                    if not close(float(hr[0]), float(sr[0]), tol):
                        problems.append(f"{t} doc {key}: request {i} log-likelihood {float(hr[0])} vs {float(sr[0])}")
                    if str(bool(hr[1])) != str(sr[1]):
                        problems.append(f"{t} doc {key}: request {i} is_greedy {hr[1]} vs {sr[1]}")
                elif isinstance(hr, str):
                    if hr != sr:
                        problems.append(f"{t} doc {key}: generation {hr!r} vs {sr!r}")
                elif not close(float(hr), float(sr), tol):
                    problems.append(f"{t} doc {key}: response {i}: {hr} vs {sr}")
            for m in h["metrics"]:
                hv, sv = h[m], s.get(m)
                if isinstance(hv, (tuple, list)):
                    # (ll, weight) pairs: numbers within tol; bleu's (gold, prediction): equal text
                    same = isinstance(sv, list) and len(sv) == len(hv) and all(
                        close(float(a), float(b), tol) if isinstance(a, (int, float)) and not isinstance(a, bool) else json.dumps(a, default=str) == json.dumps(b, default=str)
                        for a, b in zip(hv, sv)
                    )
                    if not same:
                        problems.append(f"{t} doc {key}: metric {m} {hv} vs {sv}")
                elif sv is None or not close(float(hv), float(sv), tol):
                    problems.append(f"{t} doc {key}: metric {m} {hv} vs {sv}")
        hr, sr = hf["results"][t], ts["results"][t]
        for k, v in hr.items():
            if k in ("name", "alias", "sample_len") or "," not in k:
                continue
            if k not in sr:
                problems.append(f"{t}: results key {k} missing in tessera's results.json")
            elif not close(v if isinstance(v, str) else float(v), sr[k] if isinstance(sr[k], str) else float(sr[k]), tol):
                problems.append(f"{t}: {k} {v} vs {sr[k]}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks-dir", required=True)
    ap.add_argument("--tasks", required=True)
    ap.add_argument("--num-fewshot", default="0,2")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    missing = []
    for mod in ["lm_eval", "torch", "transformers", "numpy", "tokenizers", "safetensors"]:
        try:
            __import__(mod)
        except Exception as e:  # noqa: BLE001
            missing.append(f"{mod} ({type(e).__name__}: {e})")
    if missing:
        print(json.dumps({"skipped": f"cannot import {', '.join(missing)}"}))
        return 77
    import lm_eval_parity

    tmp = Path(tempfile.mkdtemp(prefix="tessera-fewshot-parity-"))
    for k, v in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(k, v)
    os.environ["HF_DATASETS_CACHE"] = str(tmp / "hf-datasets")
    tasks = [t for t in args.tasks.split(",") if t]
    task_dir = Path(args.tasks_dir).resolve()
    summary: dict = {"tmp": str(tmp) if args.keep else None, "tasks": tasks, "seconds": {}, "runs": []}
    t0 = time.time()
    try:
        model_dir = tmp / "model"
        model_dir.mkdir()
        summary["model"] = lm_eval_parity.build_model(model_dir)
        problems: list[str] = []
        for k in [int(x) for x in args.num_fewshot.split(",")]:
            t1 = time.time()
            hf = run_harness(model_dir, task_dir, tasks, k, args.limit)
            t2 = time.time()
            ts = run_tessera(args.node, model_dir, task_dir, tasks, k, args.limit, tmp / f"ts-{k}")
            t3 = time.time()
            p = compare(hf, ts, tasks, args.tol)
            problems += [f"[{k}-shot] {x}" for x in p]
            summary["runs"].append({
                "num_fewshot": k, "harness_s": t2 - t1, "tessera_s": t3 - t2,
                "documents": {t: len(hf["samples"][t]) for t in tasks},
                "results": {t: {kk: vv for kk, vv in ts["results"][t].items() if "," in kk} for t in tasks},
            })
        summary["problems"] = problems[:50]
        summary["n_problems"] = len(problems)
        summary["ok"] = not problems
        summary["seconds"]["total"] = time.time() - t0
        print(json.dumps(summary, ensure_ascii=False, default=str))
        return 0 if not problems else 1
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        summary["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(summary, ensure_ascii=False, default=str))
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
