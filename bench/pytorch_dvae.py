#!/usr/bin/env python3
"""PyTorch peer for the dVAE training step (bench/image.ts dvae): OpenAI's dVAE block structure at a small width.

    python bench/pytorch_dvae.py --size 64 --groups 4 --n-hid 32 --blocks 2 --vocab 512 --batch 8 --steps 10 \
        [--warmup 3] [--threads 2]

The model is what a PyTorch user writes from OpenAI's dall_e/encoder.py and decoder.py (plain nn.Conv2d, same
layout): encoder = 7x7 input conv, `groups` groups of `blocks` bottleneck blocks (id path: 1x1 conv where widths
change; residual path ReLU-conv3x3 (n_out/4) x3, ReLU-conv1x1, scaled by 1/n_layers^2), max-pool 2 between groups,
ReLU + 1x1 conv to `vocab` logits; decoder = 1x1 conv from the relaxed one-hot to n_init, groups of blocks (conv 1x1,
3x3, 3x3, 3x3), nearest x2 upsampling between groups, ReLU + 1x1 conv to 6 channels.

A step = gumbel-softmax relaxation (tau 1/2 fixed) of the encoder logits, decoder, logit-Laplace NLL on pixels
mapped to (0.1, 0.9), KL of softmax(logits) to the uniform prior with beta 1, both summed and divided by the pixel
count, backward, AdamW(0.9, 0.999, wd 1e-4). Images are random in [0, 1], a fresh batch per step, generated outside
the timed region. Prints one JSON line; images_per_s = batch / median step time.
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


class EncoderBlock(nn.Module):
    def __init__(self, n_in, n_out, n_layers):
        super().__init__()
        n_hid = n_out // 4
        self.post_gain = 1 / n_layers**2
        self.id_path = nn.Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.res_path = nn.Sequential(
            nn.ReLU(), nn.Conv2d(n_in, n_hid, 3, padding=1),
            nn.ReLU(), nn.Conv2d(n_hid, n_hid, 3, padding=1),
            nn.ReLU(), nn.Conv2d(n_hid, n_hid, 3, padding=1),
            nn.ReLU(), nn.Conv2d(n_hid, n_out, 1),
        )

    def forward(self, x):
        return self.id_path(x) + self.post_gain * self.res_path(x)


class DecoderBlock(nn.Module):
    def __init__(self, n_in, n_out, n_layers):
        super().__init__()
        n_hid = n_out // 4
        self.post_gain = 1 / n_layers**2
        self.id_path = nn.Conv2d(n_in, n_out, 1) if n_in != n_out else nn.Identity()
        self.res_path = nn.Sequential(
            nn.ReLU(), nn.Conv2d(n_in, n_hid, 1),
            nn.ReLU(), nn.Conv2d(n_hid, n_hid, 3, padding=1),
            nn.ReLU(), nn.Conv2d(n_hid, n_hid, 3, padding=1),
            nn.ReLU(), nn.Conv2d(n_hid, n_out, 3, padding=1),
        )

    def forward(self, x):
        return self.id_path(x) + self.post_gain * self.res_path(x)


def encoder(groups, n_hid, blocks, vocab):
    n_layers = groups * blocks
    layers = [nn.Conv2d(3, n_hid, 7, padding=3)]
    w_in = n_hid
    for g in range(groups):
        w = n_hid * 2**g
        for b in range(blocks):
            layers.append(EncoderBlock(w_in if b == 0 else w, w, n_layers))
        w_in = w
        if g < groups - 1:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.ReLU(), nn.Conv2d(w_in, vocab, 1)]
    return nn.Sequential(*layers)


def decoder(groups, n_hid, blocks, vocab, n_init):
    n_layers = groups * blocks
    layers = [nn.Conv2d(vocab, n_init, 1)]
    w_in = n_init
    for g in range(groups):
        w = n_hid * 2 ** (groups - 1 - g)
        for b in range(blocks):
            layers.append(DecoderBlock(w_in if b == 0 else w, w, n_layers))
        w_in = w
        if g < groups - 1:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
    layers += [nn.ReLU(), nn.Conv2d(w_in, 6, 1)]
    return nn.Sequential(*layers)


EPS = 0.1


def loss_fn(enc, dec, x, tau, beta):
    logits = enc(x)  # (N, K, h, w)
    K = logits.shape[1]
    g = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-20, 1.0)))
    z = F.softmax((logits + g) / tau, dim=1)
    out = dec(z)  # (N, 6, S, S)
    mu, ln_b = out[:, :3], out[:, 3:]
    xm = (1 - 2 * EPS) * x + EPS
    logit_x = torch.log(xm) - torch.log1p(-xm)
    nll = (torch.abs(logit_x - mu) * torch.exp(-ln_b) + ln_b + math.log(2) + torch.log(xm * (1 - xm))).sum()
    logq = F.log_softmax(logits, dim=1)
    kl = (logq.exp() * (logq + math.log(K))).sum()
    return (nll + beta * kl) / x.numel()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--groups", type=int, default=4)
    ap.add_argument("--n-hid", type=int, default=32)
    ap.add_argument("--n-init", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    enc = encoder(a.groups, a.n_hid, a.blocks, a.vocab)
    dec = decoder(a.groups, a.n_hid, a.blocks, a.vocab, a.n_init)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4)
    batches = [torch.rand(a.batch, 3, a.size, a.size) for _ in range(a.warmup + a.steps)]
    times = []
    for i, x in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(enc, dec, x, 0.5, 1.0)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i >= a.warmup:
            times.append(dt)
    med = statistics.median(times)
    print(json.dumps({
        "engine": "pytorch", "torch": torch.__version__, "blas": _loaded_blas(), "threads": a.threads,
        "params": sum(p.numel() for p in params), "ms_per_step": med * 1e3, "images_per_s": a.batch / med,
        "loss": float(loss.detach()),
    }))


if __name__ == "__main__":
    main()
