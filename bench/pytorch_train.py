#!/usr/bin/python3
"""PyTorch peer for `tessera bench train`: GPT-2-style training throughput on CPU.

    /usr/bin/python3 bench/pytorch_train.py --layers 4 --heads 4 --embd 256 --block 128 \
        --vocab 4096 --batch 16 --steps 10 [--warmup 2] [--threads 2]

Model: pre-LN GPT-2, learned positions, tied embeddings (lm head = wte), GELU
(tanh approximation), biases on, dropout 0, causal attention scaled by
1/sqrt(head_dim). Optimizer: AdamW(betas 0.9/0.95, eps 1e-8, lr 6e-4) with
nanoGPT's decay groups (weight_decay 0.1 for params with dim >= 2, 0 for biases
and LayerNorm), clip_grad_norm_(1.0) before each step. Batches are random
tokens (pre-generated outside the timed region, a fresh batch per step).

A step = zero_grad + forward + cross-entropy + backward + clip + AdamW step.
Prints one JSON line; ms_per_step is the median over the timed steps and
tokens_per_s = batch * block / median step time.

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
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        nh = self.nh
        hd = C // nh
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, L, nh, C, T, V):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(C, nh) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied
        self.register_buffer("mask", ~torch.tril(torch.ones(T, T, dtype=torch.bool)), persistent=False)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for blk in self.h:
            x = blk(x, self.mask)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--embd", type=int, default=256)
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.embd % a.heads:
        raise SystemExit("--embd must be divisible by --heads")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = GPT(a.layers, a.heads, a.embd, a.block, a.vocab)
    model.train()
    params = list(model.parameters())  # dedups the tied wte / lm_head weight
    n_params = sum(p.numel() for p in params)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr, betas=(0.9, 0.95), eps=1e-8,
    )

    total = a.warmup + a.steps
    g = torch.Generator().manual_seed(a.seed + 1)
    batches = [
        (torch.randint(0, a.vocab, (a.batch, a.block), generator=g),
         torch.randint(0, a.vocab, (a.batch, a.block), generator=g))
        for _ in range(total)
    ]

    times = []
    losses = []
    for i, (x, y) in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lv = loss.item()
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
            losses.append(lv)

    med = statistics.median(times)
    tokens = a.batch * a.block
    print(json.dumps({
        "peer": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": _loaded_blas(),
        "params": n_params,
        "tokens_per_s": round(tokens / med, 2),
        "ms_per_step": round(med * 1000.0, 3),
        "mean_ms_per_step": round(1000.0 * sum(times) / len(times), 3),
        "min_ms_per_step": round(1000.0 * min(times), 3),
        "layers": a.layers,
        "heads": a.heads,
        "embd": a.embd,
        "block": a.block,
        "vocab": a.vocab,
        "batch": a.batch,
        "steps": a.steps,
        "warmup": a.warmup,
        "final_loss": round(losses[-1], 5),
    }))


if __name__ == "__main__":
    main()
