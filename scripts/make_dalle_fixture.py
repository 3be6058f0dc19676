#!/usr/bin/env python3
"""Fixture for test/image/dalle.test.ts: a tiny DALL-E stage-2 transformer written here in PyTorch from the paper
(Ramesh et al. 2021, sec. 2.2 and appendix B), independently of tessera's TypeScript, with fixed random weights.

The stream is [<bos>, text_1..text_L, image_1..image_hw] with a learned padding id per text position (bos is the
pad of position 0), the last image token dropped from the input; the logits at input position t predict stream
token t+1. Text targets are scored over the text ids only and image targets over the image ids only, and the loss
is 1/8 text + 7/8 image. The attention masks are the paper's (Fig. 11), over input positions: text causal, image
queries see all text; image->image row (the held cell and the w cells before it in raster order), column (earlier
cells of the held cell's column) and, in the last layer, a causal k x k convolutional window around the held cell.
Layers: row, column, row, conv (the schedule of dallePatterns for 4 layers).

Writes into --out (default test/fixtures/dalle):
  config.json        tessera's DALL-E model config (model_type tessera-dalle), so the dir loads with loadDalle
  model.safetensors  the weights under tessera's names (Linear weights stored (in, out))
  batch.safetensors  idx (B, N) int64, text_targets (B, L), image_targets (B, hw), logits (B, N, V) float32
  expected.json      the captions' BPE ids and image codes of the batch, and the text / image / total loss

    python scripts/make_dalle_fixture.py [--out test/fixtures/dalle]
"""

import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

CFG = dict(textVocab=20, textLength=4, imageVocab=12, gridHeight=3, gridWidth=4, nLayer=4, nHead=2, nEmbd=16,
           dropout=0.0, convKernel=3, lossImageWeight=7 / 8, nullCaptionProb=0.0)
KINDS = ['row', 'column', 'row', 'conv']


def layout():
    L, H, W = CFG['textLength'], CFG['gridHeight'], CFG['gridWidth']
    text_total = CFG['textVocab'] + L + 1
    return dict(L=L, H=H, W=W, HW=H * W, text_total=text_total, V=text_total + CFG['imageVocab'],
                N=L + H * W, block=1 + L + H * W)


def stream(text_ids, codes, lay):
    """(input ids, text targets, image targets) of one example."""
    L = lay['L']
    text = [CFG['textVocab']]  # <bos> = the pad id of position 0
    for p in range(1, L + 1):
        text.append(text_ids[p - 1] if p - 1 < len(text_ids) else CFG['textVocab'] + p)
    image = [lay['text_total'] + c for c in codes]
    full = text + image
    return full[:-1], text[1:], list(codes)


def mask(kind, lay):
    """(N, N) bool: may input position q attend to input position k (paper Fig. 11, over held tokens)."""
    N, T0, W = lay['N'], lay['L'] + 1, lay['W']
    h = CFG['convKernel'] // 2
    m = torch.zeros(N, N, dtype=torch.bool)
    for q in range(N):
        for k in range(q + 1):
            if q < T0 or k < T0:
                m[q, k] = True
                continue
            rq, cq = divmod(q - T0, W)
            rk, ck = divmod(k - T0, W)
            if kind == 'row':
                m[q, k] = (q - k) <= W
            elif kind == 'column':
                m[q, k] = cq == ck
            else:
                m[q, k] = (rq - rk) <= h and abs(cq - ck) <= h
    return m


def weights(lay, gen):
    C = CFG['nEmbd']
    r = lambda *s, std=0.3: torch.randn(*s, generator=gen) * std  # noqa: E731
    w = {
        'transformer.wte.weight': r(lay['V'], C),
        'transformer.wpe.weight': r(lay['block'], C),
        'transformer.wre.weight': r(lay['H'], C),
        'transformer.wce.weight': r(lay['W'], C),
    }
    for i in range(CFG['nLayer']):
        p = f'transformer.h.{i}.'
        w[p + 'ln_1.weight'] = 1 + r(C, std=0.1)
        w[p + 'ln_1.bias'] = r(C, std=0.1)
        w[p + 'attn.c_attn.weight'] = r(C, 3 * C)
        w[p + 'attn.c_attn.bias'] = r(3 * C, std=0.1)
        w[p + 'attn.c_proj.weight'] = r(C, C)
        w[p + 'attn.c_proj.bias'] = r(C, std=0.1)
        w[p + 'ln_2.weight'] = 1 + r(C, std=0.1)
        w[p + 'ln_2.bias'] = r(C, std=0.1)
        w[p + 'mlp.c_fc.weight'] = r(C, 4 * C)
        w[p + 'mlp.c_fc.bias'] = r(4 * C, std=0.1)
        w[p + 'mlp.c_proj.weight'] = r(4 * C, C)
        w[p + 'mlp.c_proj.bias'] = r(C, std=0.1)
    w['transformer.ln_f.weight'] = 1 + r(C, std=0.1)
    w['transformer.ln_f.bias'] = r(C, std=0.1)
    w['transformer.lm_head.weight'] = r(C, lay['V'])
    return w


def forward(w, idx, lay):
    """Logits (B, N, V): pre-LN blocks, GELU (tanh), untied head."""
    B, N = idx.shape
    C, nh = CFG['nEmbd'], CFG['nHead']
    hd = C // nh
    T0, W = lay['L'] + 1, lay['W']
    x = w['transformer.wte.weight'][idx] + w['transformer.wpe.weight'][:N]
    pos = torch.arange(N)
    img = pos >= T0
    cell = (pos - T0).clamp(min=0)
    grid = w['transformer.wre.weight'][cell // W] + w['transformer.wce.weight'][cell % W]
    x = x + grid * img[:, None].float()
    masks = {k: mask(k, lay) for k in set(KINDS)}
    for i, kind in enumerate(KINDS):
        p = f'transformer.h.{i}.'
        a = F.layer_norm(x, (C,), w[p + 'ln_1.weight'], w[p + 'ln_1.bias'], 1e-5)
        q, k, v = (a @ w[p + 'attn.c_attn.weight'] + w[p + 'attn.c_attn.bias']).split(C, dim=-1)
        q, k, v = (t.view(B, N, nh, hd).transpose(1, 2) for t in (q, k, v))  # (B, nh, N, hd)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # (B, nh, N, N)
        att = att.masked_fill(~masks[kind], float('-inf')).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, N, C)
        x = x + y @ w[p + 'attn.c_proj.weight'] + w[p + 'attn.c_proj.bias']
        m = F.layer_norm(x, (C,), w[p + 'ln_2.weight'], w[p + 'ln_2.bias'], 1e-5)
        m = F.gelu(m @ w[p + 'mlp.c_fc.weight'] + w[p + 'mlp.c_fc.bias'], approximate='tanh')
        x = x + m @ w[p + 'mlp.c_proj.weight'] + w[p + 'mlp.c_proj.bias']
    x = F.layer_norm(x, (C,), w['transformer.ln_f.weight'], w['transformer.ln_f.bias'], 1e-5)
    return x @ w['transformer.lm_head.weight']


def loss(logits, tt, it, lay):
    L, tot = lay['L'], lay['text_total']
    text = F.cross_entropy(logits[:, :L, :tot].reshape(-1, tot), tt.reshape(-1))
    image = F.cross_entropy(logits[:, L:, tot:].reshape(-1, CFG['imageVocab']), it.reshape(-1))
    wi = CFG['lossImageWeight']
    return text, image, (1 - wi) * text + wi * image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'dalle'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lay = layout()
    gen = torch.Generator().manual_seed(1234)
    w = weights(lay, gen)
    captions = [[3, 7, 11], [], [19, 0, 5, 2]]  # one pad, the null caption, a full caption
    codes = [torch.randint(0, CFG['imageVocab'], (lay['HW'],), generator=gen).tolist() for _ in captions]
    rows = [stream(c, z, lay) for c, z in zip(captions, codes)]
    idx = torch.tensor([r[0] for r in rows], dtype=torch.int64)
    tt = torch.tensor([r[1] for r in rows], dtype=torch.int64)
    it = torch.tensor([r[2] for r in rows], dtype=torch.int64)
    with torch.no_grad():
        logits = forward(w, idx, lay)
        text, image, total = loss(logits, tt, it, lay)
    save_file({k: v.contiguous().float() for k, v in w.items()}, os.path.join(args.out, 'model.safetensors'), metadata={'format': 'pt'})
    save_file({'idx': idx, 'text_targets': tt, 'image_targets': it, 'logits': logits.contiguous().float()},
              os.path.join(args.out, 'batch.safetensors'))
    config = {
        'model_type': 'tessera-dalle',
        'dalle': {**CFG, 'attention': KINDS},
        'dvae': {'num_tokens': CFG['imageVocab'], 'grid_height': CFG['gridHeight'], 'grid_width': CFG['gridWidth']},
        'vocab_ranges': [{'name': 'text', 'start': 0, 'size': lay['text_total']},
                         {'name': 'image', 'start': lay['text_total'], 'size': CFG['imageVocab']}],
        'block_size': lay['block'],
    }
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    expected = {'captions': captions, 'codes': codes, 'loss': {'text': text.item(), 'image': image.item(), 'total': total.item()},
                'torch': torch.__version__}
    with open(os.path.join(args.out, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=2)
        f.write('\n')
    print(f"wrote {args.out}: loss text {text.item():.6f} image {image.item():.6f} total {total.item():.6f}")


if __name__ == '__main__':
    main()
