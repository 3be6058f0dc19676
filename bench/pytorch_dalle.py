#!/usr/bin/env python3
"""PyTorch peer for the DALL·E transformer (bench/image.ts dalle-train, dalle-sample): the same stream, masks and
loss as src/image/dalle.ts, written the way a PyTorch user would (nn.Linear, masked softmax attention).

    python bench/pytorch_dalle.py --mode train --text-vocab 256 --text-len 16 --grid 8 --image-vocab 512 \
        --layers 4 --heads 4 --embd 128 --batch 8 --steps 10 [--warmup 3] [--threads 2] [--conv-kernel 5]
    python bench/pytorch_dalle.py --mode sample ... --batch 8 --rounds 2

Stream: [bos, text_1..L, image_1..HW-1] (L + HW positions); text ids 0..V_text + L (bos and one pad id per text
position), image ids after them; untied output head. Layer i (1-based) is row attention, column attention where (i - 2) mod 4 = 0, and
convolutional (causal k x k) in the last layer; text is causal and image tokens see all text. Image positions get
row and column embeddings. Loss = 1/8 text CE + 7/8 image CE (logits restricted per kind).
train: a step = forward + loss + backward + AdamW(0.9, 0.96, wd 4.5e-2) with clip 4; images_per_s = batch / median.
sample: prefill the text, then HW image tokens one at a time with a KV cache (t = 1, image ids only);
images_per_s = batch / median seconds per batch.
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


def visible(kind, q, k, L0, W, kernel):
    """L0 = text prefix length (bos + text); positions >= L0 are image tokens in raster order."""
    if k > q:
        return False
    if q < L0 or k < L0:
        return True
    i, j = q - L0, k - L0
    if kind == "row":
        return i - j <= W
    if kind == "column":
        return (i - j) % W == 0
    h = kernel // 2
    return i // W - j // W <= h and abs(i % W - j % W) <= h


def schedule(n_layer):
    kinds = []
    for i in range(1, n_layer + 1):
        if i == n_layer and n_layer > 1:
            kinds.append("conv")
        else:
            kinds.append("column" if (i - 2) % 4 == 0 else "row")
    return kinds


class Block(nn.Module):
    def __init__(self, C, nh):
        super().__init__()
        self.nh = nh
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def attend(self, x, bias, past=None):
        B, T, C = x.shape
        nh, hd = self.nh, C // self.nh
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, nh, hd).transpose(1, 2)
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], 2)
            v = torch.cat([past[1], v], 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd)) + bias
        y = (F.softmax(att, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        return self.c_proj(y), (k, v)

    def forward(self, x, bias, past=None):
        a, kv = self.attend(x, bias, past)
        x = x + a
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, kv


class Dalle(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = a
        self.L0 = 1 + a.text_len
        self.HW = a.grid * a.grid
        self.n_text = a.text_vocab + 1 + a.text_len  # bos + one pad per position
        self.V = self.n_text + a.image_vocab
        self.T = self.L0 + self.HW - 1
        C = a.embd
        self.wte = nn.Embedding(self.V, C)
        self.wpe = nn.Embedding(self.T, C)
        self.wre = nn.Embedding(a.grid, C)
        self.wce = nn.Embedding(a.grid, C)
        self.h = nn.ModuleList([Block(C, a.heads) for _ in range(a.layers)])
        self.ln_f = nn.LayerNorm(C)
        self.lm_head = nn.Linear(C, self.V, bias=False)  # untied, as tessera's DALL·E (and DALLE-pytorch's to_logits)
        self.kinds = schedule(a.layers)
        masks = {}
        for kind in set(self.kinds):
            m = torch.full((self.T, self.T), float("-inf"))
            for q in range(self.T):
                for k in range(q + 1):
                    if visible(kind, q, k, self.L0, a.grid, a.conv_kernel):
                        m[q, k] = 0.0
            masks[kind] = m
        self.masks = masks
        pos = torch.arange(self.T)
        img = (pos - self.L0).clamp(min=0)
        self.register_buffer("row", img // a.grid, persistent=False)
        self.register_buffer("col", img % a.grid, persistent=False)
        self.register_buffer("is_img", (pos >= self.L0).float().unsqueeze(-1), persistent=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)

    def embed(self, idx, pos):
        x = self.wte(idx) + self.wpe(pos)
        return x + (self.wre(self.row[pos]) + self.wce(self.col[pos])) * self.is_img[pos]

    def logits(self, x):
        return self.lm_head(self.ln_f(x))

    def loss(self, idx, targets):
        T = idx.shape[1]
        x = self.embed(idx, torch.arange(T))
        for blk, kind in zip(self.h, self.kinds):
            x, _ = blk(x, self.masks[kind][:T, :T])
        logits = self.logits(x)  # (B, T, V)
        nt = self.a.text_len  # positions 0..L-1 predict text tokens 1..L; L.. predict image tokens
        text_logits = logits[:, :nt, : self.n_text]
        img_logits = logits[:, nt:, self.n_text :]
        lt = F.cross_entropy(text_logits.reshape(-1, self.n_text), targets[:, :nt].reshape(-1))
        li = F.cross_entropy(img_logits.reshape(-1, self.a.image_vocab), targets[:, nt:].reshape(-1) - self.n_text)
        return (lt + 7 * li) / 8

    @torch.no_grad()
    def sample(self, text):  # text (B, L0) incl. bos
        B = text.shape[0]
        past = [None] * len(self.h)
        x = self.embed(text, torch.arange(self.L0))
        for i, (blk, kind) in enumerate(zip(self.h, self.kinds)):
            x, past[i] = blk(x, self.masks[kind][: self.L0, : self.L0])
        out = []
        last = self.logits(x[:, -1])
        for t in range(self.HW):
            probs = F.softmax(last[:, self.n_text :], dim=-1)
            tok = torch.multinomial(probs, 1)  # (B, 1)
            out.append(tok)
            if t == self.HW - 1:
                break
            p = self.L0 + t
            x = self.embed(tok + self.n_text, torch.tensor([p]))
            for i, (blk, kind) in enumerate(zip(self.h, self.kinds)):
                x, past[i] = blk(x, self.masks[kind][p : p + 1, : p + 1], past[i])
            last = self.logits(x[:, -1])
        return torch.cat(out, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "sample"], default="train")
    ap.add_argument("--text-vocab", type=int, default=256)
    ap.add_argument("--text-len", type=int, default=16)
    ap.add_argument("--grid", type=int, default=8)
    ap.add_argument("--image-vocab", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--embd", type=int, default=128)
    ap.add_argument("--conv-kernel", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Dalle(a)
    nparams = sum(p.numel() for p in m.parameters())
    g = torch.Generator().manual_seed(1)

    def text_batch():
        t = torch.randint(0, a.text_vocab, (a.batch, a.text_len), generator=g) + 1
        return torch.cat([torch.zeros(a.batch, 1, dtype=torch.long), t], 1)

    times = []
    if a.mode == "train":
        opt = torch.optim.AdamW(m.parameters(), lr=4.5e-4, betas=(0.9, 0.96), weight_decay=4.5e-2)
        for i in range(a.warmup + a.steps):
            text = text_batch()
            img = torch.randint(0, a.image_vocab, (a.batch, m.HW), generator=g) + m.n_text
            seq = torch.cat([text, img], 1)
            idx, targets = seq[:, :-1], seq[:, 1:]
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = m.loss(idx, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 4.0)
            opt.step()
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
        extra = {"loss": float(loss.detach())}
    else:
        m.eval()
        for i in range(1 + a.rounds):
            text = text_batch()
            t0 = time.perf_counter()
            m.sample(text)
            if i >= 1:
                times.append(time.perf_counter() - t0)
        extra = {}
    med = statistics.median(times)
    print(json.dumps({
        "engine": "pytorch", "mode": a.mode, "torch": torch.__version__, "blas": _loaded_blas(), "threads": a.threads,
        "params": nparams, "seconds": med, "images_per_s": a.batch / med, **extra,
    }))


if __name__ == "__main__":
    main()
