#!/usr/bin/python3
"""PyTorch peer: KV-cache greedy decoding throughput for a GPT-2-shaped model on CPU.

    /usr/bin/python3 bench/pytorch_decode.py --layers 12 --heads 12 --embd 768 --block 1024 \
        --vocab 50257 --batch 1 --tokens 64 [--prompt 1] [--warmup 4] [--threads 2]

Random weights (N(0, 0.02), LN weight 1 / bias 0), pre-LN GPT-2, tied lm head,
GELU tanh. Under torch.no_grad():
  1. prefill: the random prompt (batch, prompt) runs through the model once,
     filling a preallocated per-layer K/V cache of shape (batch, heads, block,
     head_dim); the argmax of the last position's logits is the first token;
  2. decode: `tokens` single-token steps, each appending its K/V at position
     t of the cache, attending over cache[:, :, :t+1], and taking the argmax of
     the logits (B, vocab) as the next input token.
Only the decode loop is timed: tokens_per_s = batch * tokens / seconds and
ms_per_token = seconds / tokens * 1000 (per decode step, i.e. per generated
position, whatever the batch). prefill_ms is reported separately. A short
untimed warmup decode (--warmup steps) runs first.

BLAS: see bench/peer_blas.py (OpenMP OpenBLAS preferred; the JSON "blas" field says which was loaded).
Run on an otherwise idle machine: with other processes busy, 2 threads on 2 cores degrade by 2-5x.
"""


import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_blas import loaded_blas as _loaded_blas, prefer_openmp_openblas as _prefer_openmp_openblas  # noqa: E402

if __name__ == "__main__":
    _prefer_openmp_openblas()

import argparse
import json
import math
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


def generate(w, prompt, n_tokens, nh, T):
    B, P = prompt.shape
    C = w["wte"].shape[1]
    L = len(w["layers"])
    kc = [torch.empty(B, nh, T, C // nh) for _ in range(L)]
    vc = [torch.empty(B, nh, T, C // nh) for _ in range(L)]
    t0 = time.perf_counter()
    tok = forward(w, prompt, 0, kc, vc, nh).argmax(dim=-1, keepdim=True)
    t1 = time.perf_counter()
    out = []
    for i in range(n_tokens):
        out.append(tok)
        tok = forward(w, tok, P + i, kc, vc, nh).argmax(dim=-1, keepdim=True)
    t2 = time.perf_counter()
    return torch.cat(out, dim=1), t1 - t0, t2 - t1


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
    prompt = torch.randint(0, a.vocab, (a.batch, a.prompt), generator=gen)
    with torch.no_grad():
        if a.warmup > 0:
            generate(w, prompt, min(a.warmup, a.block - a.prompt), a.heads, a.block)
        _, prefill_s, decode_s = generate(w, prompt, a.tokens, a.heads, a.block)

    print(json.dumps({
        "peer": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": _loaded_blas(),
        "params": n_params,
        "batch": a.batch,
        "tokens": a.tokens,
        "prompt": a.prompt,
        "tokens_per_s": round(a.batch * a.tokens / decode_s, 3),
        "ms_per_token": round(decode_s / a.tokens * 1000.0, 3),
        "prefill_ms": round(prefill_s * 1000.0, 3),
        "layers": a.layers,
        "heads": a.heads,
        "embd": a.embd,
        "block": a.block,
        "vocab": a.vocab,
        "kv_cache": "preallocated (B, heads, block, head_dim) per layer",
    }))


if __name__ == "__main__":
    main()
