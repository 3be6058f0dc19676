#!/usr/bin/env python3
"""PyTorch peer of bench/beam.ts: beam search with transformers' GPT2LMHeadModel.generate on CPU.

    python bench/pytorch_beam.py --weights W.safetensors --layers 12 --heads 12 --embd 768 --block 1024 \\
        --vocab 50257 --beams 4 --tokens 64 --prompt 32 [--seed 1] [--repeats 1] [--threads 2]

W.safetensors comes from `tessera bench beam --save-weights W` (same random weights, same seed). The prompt ids are
computed as in bench/beam.ts ((seed * 1009 + i * 7919) % vocab). generate(num_beams=W, max_new_tokens=N,
min_new_tokens=N, do_sample=False, use_cache=True, length_penalty=1, early_stopping=False, eos = vocab - 1), so every
search runs all N tokens, as tessera's (eot masked until N). Timed: the generate call (one untimed 2-token warm-up
first). tokens_per_s = new tokens of the returned sequence / seconds; beam_tokens_per_s counts all W beams.
"""

import argparse
import json
import statistics
import time

import torch

from pytorch_score import cpu_model, cpu_seconds, load_gpt2, peak_rss_mb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=32)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_gpt2(a.weights, a.layers, a.heads, a.embd, a.block, a.vocab)
    eos = a.vocab - 1
    ids = torch.tensor([[(a.seed * 1009 + i * 7919) % a.vocab for i in range(a.prompt)]], dtype=torch.long)
    mask = torch.ones_like(ids)

    def search(n):
        with torch.no_grad():
            return model.generate(ids, attention_mask=mask, num_beams=a.beams, max_new_tokens=n, min_new_tokens=n,
                                  do_sample=False, use_cache=True, length_penalty=1.0, early_stopping=False,
                                  num_return_sequences=1, eos_token_id=eos, pad_token_id=eos)

    search(2)  # warm-up
    times = []
    out = None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = search(a.tokens)
        times.append(time.perf_counter() - t0)
    new = out[0, a.prompt:].tolist()
    secs = min(times)
    print(json.dumps({
        "peer": "pytorch (transformers generate, num_beams)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "cpu": cpu_model(),
        "params": sum(p.numel() for p in model.parameters()),
        "beams": a.beams,
        "tokens": a.tokens,
        "prompt": a.prompt,
        "generated": len(new),
        "tokens_per_s": len(new) / secs,
        "beam_tokens_per_s": a.beams * len(new) / secs,
        "seconds": secs,
        "seconds_median": statistics.median(times),
        "runs": times,
        "best_tokens": new,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": cpu_seconds(),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
    }))


if __name__ == "__main__":
    main()
