#!/usr/bin/env python3
"""PyTorch peer: a KV-cache decoding loop (greedy or top-k sampling) for a GPT-2-shaped model on CPU.

    python bench/pytorch_decode.py --layers 12 --heads 12 --embd 768 --block 1024 \
        --vocab 50257 --batch 32 --tokens 256 [--top-k 40] [--temperature 1] [--samples N] \
        [--prompt 1] [--warmup 4] [--threads 2]

Random weights (N(0, 0.02), LN weight 1 / bias 0), pre-LN GPT-2, tied lm head,
GELU tanh. Under torch.no_grad():
  1. prefill: the random prompt (batch, prompt) runs through the model once,
     filling a preallocated per-layer K/V cache of shape (batch, heads, block,
     head_dim) -- sized for the whole context, as a plain user loop would; the
     next token is chosen from the last position's logits;
  2. decode: `tokens` single-token steps, each appending its K/V at position
     t of the cache, attending over cache[:, :, :t+1], and choosing the next
     input token from the logits (B, vocab): argmax (--top-k 0, the default),
     or torch.topk(logits / temperature, k) + softmax + torch.multinomial.
--samples N (default: batch) decodes ceil(N / batch) batches one after another
(the last one smaller when batch does not divide N).
Only the decode loops are timed: tokens_per_s = generated tokens / seconds and
ms_per_token = seconds / decode steps * 1000 (per step, whatever the batch).
prefill_ms is reported separately. A short untimed warmup decode (--warmup
steps) runs first. peak_rss_mb is the process's maximum resident set size.

BLAS: Debian's torch goes through bench/peer_blas.py (OpenMP OpenBLAS preferred); a pip wheel (a virtualenv) brings
its own MKL and is left alone. The JSON "blas" field says which was used.
Run on an otherwise idle machine: with other processes busy, 2 threads on 2 cores degrade by 2-5x.
"""


import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_blas import loaded_blas as _loaded_blas, prefer_openmp_openblas as _prefer_openmp_openblas  # noqa: E402

if __name__ == "__main__" and sys.prefix == sys.base_prefix:  # Debian's system torch, not a pip wheel in a venv
    _prefer_openmp_openblas()

import argparse
import json
import math
import platform
import resource
import time

import torch
import torch.nn.functional as F


def make_weights(L, C, T, V, gen):
    def n(*shape, std=0.02):
        return torch.randn(*shape, generator=gen) * std

    w = {"wte": n(V, C), "wpe": n(T, C), "ln_f": (torch.ones(C), torch.zeros(C)), "layers": []}
    for _ in range(L):
        w["layers"].append({
            "ln_1": (torch.ones(C), torch.zeros(C)),
            "attn_w": n(3 * C, C), "attn_b": torch.zeros(3 * C),  # F.linear layout (out, in)
            "proj_w": n(C, C, std=0.02 / math.sqrt(2 * L)), "proj_b": torch.zeros(C),
            "ln_2": (torch.ones(C), torch.zeros(C)),
            "fc_w": n(4 * C, C), "fc_b": torch.zeros(4 * C),
            "fc2_w": n(C, 4 * C, std=0.02 / math.sqrt(2 * L)), "fc2_b": torch.zeros(C),
        })
    return w


def forward(w, idx, pos0, kcache, vcache, nh):
    """idx (B, S) tokens at positions pos0..pos0+S-1; updates the caches in place.
    Returns logits of the last position, (B, V)."""
    B, S = idx.shape
    C = w["wte"].shape[1]
    hd = C // nh
    scale = 1.0 / math.sqrt(hd)
    x = F.embedding(idx, w["wte"]) + w["wpe"][pos0:pos0 + S]
    end = pos0 + S
    mask = None
    if S > 1:
        # query i (absolute pos0+i) sees keys 0..pos0+i
        mask = torch.ones(S, end, dtype=torch.bool).tril(diagonal=pos0).logical_not()
    for l, lw in enumerate(w["layers"]):
        h = F.layer_norm(x, (C,), lw["ln_1"][0], lw["ln_1"][1], 1e-5)
        q, k, v = F.linear(h, lw["attn_w"], lw["attn_b"]).split(C, dim=2)
        q = q.view(B, S, nh, hd).transpose(1, 2)
        kcache[l][:, :, pos0:end] = k.view(B, S, nh, hd).transpose(1, 2)
        vcache[l][:, :, pos0:end] = v.view(B, S, nh, hd).transpose(1, 2)
        kk = kcache[l][:, :, :end]
        vv = vcache[l][:, :, :end]
        att = (q @ kk.transpose(-2, -1)) * scale  # (B, nh, S, end)
        if mask is not None:
            att = att.masked_fill(mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ vv).transpose(1, 2).reshape(B, S, C)
        x = x + F.linear(y, lw["proj_w"], lw["proj_b"])
        h = F.layer_norm(x, (C,), lw["ln_2"][0], lw["ln_2"][1], 1e-5)
        h = F.gelu(F.linear(h, lw["fc_w"], lw["fc_b"]), approximate="tanh")
        x = x + F.linear(h, lw["fc2_w"], lw["fc2_b"])
    x = F.layer_norm(x[:, -1, :], (C,), w["ln_f"][0], w["ln_f"][1], 1e-5)
    return F.linear(x, w["wte"])  # tied head, (B, V)


def choose(logits, top_k, temperature, gen):
    """Next token (B, 1): argmax, or a multinomial draw among the top_k logits at `temperature`."""
    if top_k <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    vals, ids = torch.topk(logits, top_k, dim=-1)
    probs = torch.softmax(vals / temperature, dim=-1)
    return ids.gather(-1, torch.multinomial(probs, 1, generator=gen))


def generate(w, prompt, n_tokens, nh, T, top_k=0, temperature=1.0, gen=None):
    B, P = prompt.shape
    C = w["wte"].shape[1]
    L = len(w["layers"])
    kc = [torch.empty(B, nh, T, C // nh) for _ in range(L)]
    vc = [torch.empty(B, nh, T, C // nh) for _ in range(L)]
    t0 = time.perf_counter()
    tok = choose(forward(w, prompt, 0, kc, vc, nh), top_k, temperature, gen)
    t1 = time.perf_counter()
    out = []
    for i in range(n_tokens):
        out.append(tok)
        tok = choose(forward(w, tok, P + i, kc, vc, nh), top_k, temperature, gen)
    t2 = time.perf_counter()
    return torch.cat(out, dim=1), t1 - t0, t2 - t1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # ru_maxrss is KiB on Linux


def blas_name():
    return "mkl" if torch.backends.mkl.is_available() else _loaded_blas()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0 = greedy)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--samples", type=int, default=0, help="sequences in total (default: batch)")
    a = ap.parse_args()
    if a.prompt + a.tokens > a.block:
        raise SystemExit("--prompt + --tokens must be <= --block")
    if a.embd % a.heads:
        raise SystemExit("--embd must be divisible by --heads")

    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    w = make_weights(a.layers, a.embd, a.block, a.vocab, gen)
    n_params = w["wte"].numel() + w["wpe"].numel() + 2 * a.embd + sum(
        t.numel() for lw in w["layers"] for v in lw.values() for t in (v if isinstance(v, tuple) else (v,))
    )
    samples = a.samples or a.batch
    prompts = torch.randint(0, a.vocab, (samples, a.prompt), generator=gen)
    prefill_s = decode_s = 0.0
    steps = generated = 0
    with torch.no_grad():
        if a.warmup > 0:
            generate(w, prompts[: a.batch], min(a.warmup, a.block - a.prompt), a.heads, a.block, a.top_k, a.temperature, gen)
        for s0 in range(0, samples, a.batch):
            toks, p_s, d_s = generate(w, prompts[s0:s0 + a.batch], a.tokens, a.heads, a.block, a.top_k, a.temperature, gen)
            prefill_s += p_s
            decode_s += d_s
            steps += a.tokens
            generated += toks.numel()

    print(json.dumps({
        "peer": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_name(),
        "cpu": cpu_model(),
        "params": n_params,
        "batch": a.batch,
        "samples": samples,
        "tokens": a.tokens,
        "prompt": a.prompt,
        "top_k": a.top_k,
        "temperature": a.temperature if a.top_k > 0 else None,
        "mode": f"top-k {a.top_k}" if a.top_k > 0 else "greedy",
        "generated": generated,
        "tokens_per_s": round(generated / decode_s, 3),
        "seconds": round(decode_s, 3),
        "ms_per_token": round(decode_s / steps * 1000.0, 3),
        "prefill_ms": round(prefill_s * 1000.0, 3),
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": cpu_seconds(),
        "layers": a.layers,
        "heads": a.heads,
        "embd": a.embd,
        "block": a.block,
        "vocab": a.vocab,
        "kv_cache": "preallocated (B, heads, block, head_dim) per layer",
    }))


if __name__ == "__main__":
    main()
