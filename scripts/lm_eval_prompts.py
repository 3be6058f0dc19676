#!/usr/bin/env python3
"""Dump lm-evaluation-harness's prompts for task YAML files, without a model (the oracle for tessera's Task).

For each task and each num_fewshot: load the task through lm_eval's TaskManager (the include path only, no builtin
tasks), set num_fewshot and the few-shot seed as simple_evaluate does (an explicit num_fewshot overrides the YAML's
unless that is 0; task.set_fewshot_seed(1234)), build_all_requests(limit, rank=0, world_size=1), and write per
document: doc_id and each instance's request_type, idx and arguments (context, continuation / generation kwargs).

dataset_kwargs.data_files are opened relative to the current directory by datasets' json builder, so each task is
loaded from its YAML's directory (tessera resolves them relative to the YAML file: the same files).

  HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 /work/venv/bin/python scripts/lm_eval_prompts.py \\
      --include-path test/fixtures/fewshot/tasks --tasks fx_mc,fx_lambada --num-fewshot 0,1,3 \\
      [--extra fx_mc=8] --out prompts.json
"""

import argparse
import json
import logging
import os
import sys
import tempfile


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--include-path", required=True, help="directory with the task YAML files")
    ap.add_argument("--tasks", required=True, help="comma-separated task names (or tags)")
    ap.add_argument("--num-fewshot", default="0", help="comma-separated K values (default 0)")
    ap.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="TASK=K[,K]",
        help="more K values for one task (e.g. to reach a sampler edge case); repeatable",
    )
    ap.add_argument("--limit", type=int, default=None, help="first N documents per task")
    ap.add_argument("--seed", type=int, default=1234, help="few-shot seed (simple_evaluate's fewshot_random_seed, 1234)")
    ap.add_argument("--out", required=True, help="output JSON file")
    args = ap.parse_args()

    # a private datasets cache: no stale tables from an earlier version of the same files
    os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="lm_eval_prompts_"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ["TQDM_DISABLE"] = "1"
    logging.disable(logging.WARNING)

    import datasets
    import lm_eval
    from lm_eval.tasks import TaskManager

    datasets.disable_progress_bars()

    include = os.path.abspath(args.include_path)
    tm = TaskManager(include_path=include, include_defaults=False)
    names: list[str] = []
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        entry = tm.task_index.get(name)
        if entry is None:
            print(f"unknown task '{name}' under {include}", file=sys.stderr)
            return 2
        names.extend(sorted(entry.tags) if entry.kind.name == "TAG" else [name])

    shots = [int(k) for k in args.num_fewshot.split(",")]
    extra: dict[str, list[int]] = {}
    for spec in args.extra:
        task_name, _, ks = spec.partition("=")
        extra.setdefault(task_name, []).extend(int(k) for k in ks.split(","))
    out = {"lm_eval_version": lm_eval.__version__, "seed": args.seed, "limit": args.limit, "tasks": {}}
    cwd = os.getcwd()
    for name in names:
        yaml_path = tm.task_index[name].yaml_path
        record = {"yaml": os.path.relpath(str(yaml_path), include), "num_fewshot": {}}
        for k in shots + [k for k in extra.get(name, []) if k not in shots]:
            os.chdir(os.path.dirname(str(yaml_path)))
            try:
                task = tm.load([name])["tasks"][name]
            finally:
                os.chdir(cwd)
            # simple_evaluate's overrides
            if task.get_config("num_fewshot") == 0:
                effective = 0
            else:
                task.set_config(key="num_fewshot", value=k)
                effective = k
            task.set_fewshot_seed(seed=args.seed)
            task.build_all_requests(limit=args.limit, rank=0, world_size=1)
            docs: dict[int, list] = {}
            for inst in task.instances:
                docs.setdefault(inst.doc_id, []).append(
                    {"request_type": inst.request_type, "idx": inst.idx, "arguments": list(inst.arguments)}
                )
            record["num_fewshot"][str(k)] = {
                "effective_num_fewshot": effective,
                "docs": [{"doc_id": d, "requests": reqs} for d, reqs in sorted(docs.items())],
            }
        out["tasks"][name] = record
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
