#!/usr/bin/env python3
"""PyTorch reference for tessera's CLIP (src/image/clip.ts), checked by test/image/clip.test.ts.

An independent re-implementation, written from openai/CLIP's design (clip/model.py), not copied: a text transformer
(token + learned positions, pre-LN blocks under a causal mask, ln_final, features of the last non-pad token, a
projection) and a small ViT (images normalised with openai/CLIP's mean/std, a patch convolution without bias, a class
token, learned positions, ln_pre, pre-LN blocks, ln_post of the class token, a projection). Both embeddings are
L2-normalised; logits = clamp(exp(logit_scale), max=100) * img @ txt.T; the loss is the mean of the image->text and
text->image cross-entropies with the diagonal as positives. Blocks are GPT-2 style like tessera's shared `Block`:
LayerNorm eps 1e-5, c_attn columns [q | k | v], heads split as view(B, T, nh, hd), attention scaled by 1/sqrt(hd),
GELU tanh approximation, 4x MLP; Linear weights stored (in, out), y = x @ W + b.

Fixed small weights (seeded, wider than a real init so the outputs are far from degenerate) and a fixed batch of 4
image/caption pairs; everything is computed in float64 from the float32 weights and stored as float32:

    test/fixtures/clip/model/config.json, model.safetensors   a tessera-clip model directory
    test/fixtures/clip/reference.safetensors                   inputs, embeddings, logits, losses, gradients

    /work/venv/bin/python scripts/make_clip_fixture.py [--out DIR]
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'clip')

CONFIG = dict(
    textVocab=24, textLength=8, padId=0, textWidth=16, textLayers=2, textHeads=2,
    imageSize=16, patchSize=8, visionWidth=16, visionLayers=2, visionHeads=2, embedDim=8,
)
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]
# the captions of the fixed batch: trailing padding (padId 0) of different lengths, one caption without padding
TEXTS = [[5, 9, 3], [7, 7, 2, 11, 4], [23, 1, 14, 6, 8, 19, 2, 13], [12]]


def param_shapes(c):
    shapes = {}
    def block(pre, w):
        shapes.update({
            f'{pre}.ln_1.weight': [w], f'{pre}.ln_1.bias': [w],
            f'{pre}.attn.c_attn.weight': [w, 3 * w], f'{pre}.attn.c_attn.bias': [3 * w],
            f'{pre}.attn.c_proj.weight': [w, w], f'{pre}.attn.c_proj.bias': [w],
            f'{pre}.ln_2.weight': [w], f'{pre}.ln_2.bias': [w],
            f'{pre}.mlp.c_fc.weight': [w, 4 * w], f'{pre}.mlp.c_fc.bias': [4 * w],
            f'{pre}.mlp.c_proj.weight': [4 * w, w], f'{pre}.mlp.c_proj.bias': [w],
        })
    tw, vw = c['textWidth'], c['visionWidth']
    shapes['text.token_embedding.weight'] = [c['textVocab'], tw]
    shapes['text.positional_embedding.weight'] = [c['textLength'], tw]
    for i in range(c['textLayers']):
        block(f'text.h.{i}', tw)
    shapes['text.ln_final.weight'] = [tw]
    shapes['text.ln_final.bias'] = [tw]
    shapes['text.text_projection.weight'] = [tw, c['embedDim']]
    p = c['patchSize']
    n = (c['imageSize'] // p) ** 2 + 1
    shapes['visual.conv1.weight'] = [vw, 3, p, p]
    shapes['visual.class_embedding'] = [vw]
    shapes['visual.positional_embedding'] = [n, vw]
    shapes['visual.ln_pre.weight'] = [vw]
    shapes['visual.ln_pre.bias'] = [vw]
    for i in range(c['visionLayers']):
        block(f'visual.h.{i}', vw)
    shapes['visual.ln_post.weight'] = [vw]
    shapes['visual.ln_post.bias'] = [vw]
    shapes['visual.proj.weight'] = [vw, c['embedDim']]
    shapes['logit_scale'] = []
    return shapes


def make_weights(c, gen):
    weights = {}
    for name, shape in param_shapes(c).items():
        if name == 'logit_scale':
            t = torch.tensor(math.log(1 / 0.07))
        elif '.ln_' in name and name.endswith('.weight'):
            t = 1 + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif name.endswith('.bias'):
            t = 0.05 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif 'embedding' in name:
            t = 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            fan_in = shape[0] if len(shape) == 2 else shape[1] * shape[2] * shape[3]
            t = torch.randn(shape, generator=gen, dtype=torch.float64) / math.sqrt(fan_in)
        weights[name] = t.to(torch.float32)
    return weights


def layer_norm(x, p, pre):
    return F.layer_norm(x, x.shape[-1:], p[f'{pre}.weight'], p[f'{pre}.bias'], 1e-5)


def block(x, p, pre, n_head, causal):
    B, T, C = x.shape
    hd = C // n_head
    h = layer_norm(x, p, f'{pre}.ln_1')
    qkv = h @ p[f'{pre}.attn.c_attn.weight'] + p[f'{pre}.attn.c_attn.bias']
    q, k, v = (z.view(B, T, n_head, hd).transpose(1, 2) for z in qkv.split(C, dim=2))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
    if causal:
        keep = torch.ones(T, T, dtype=torch.bool).tril()
        att = att.masked_fill(~keep, float('-inf'))
    y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C)
    x = x + (y @ p[f'{pre}.attn.c_proj.weight'] + p[f'{pre}.attn.c_proj.bias'])
    h = layer_norm(x, p, f'{pre}.ln_2')
    m = F.gelu(h @ p[f'{pre}.mlp.c_fc.weight'] + p[f'{pre}.mlp.c_fc.bias'], approximate='tanh')
    return x + (m @ p[f'{pre}.mlp.c_proj.weight'] + p[f'{pre}.mlp.c_proj.bias'])


def encode_text(p, c, ids):
    B, L = ids.shape
    x = p['text.token_embedding.weight'][ids] + p['text.positional_embedding.weight']
    for i in range(c['textLayers']):
        x = block(x, p, f'text.h.{i}', c['textHeads'], causal=True)
    x = layer_norm(x, p, 'text.ln_final')
    last = (torch.arange(L) * (ids != c['padId'])).max(dim=1).values  # the last non-pad position
    return x[torch.arange(B), last] @ p['text.text_projection.weight']


def encode_image(p, c, images):
    B = images.shape[0]
    mean = torch.tensor(MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=images.dtype).view(1, 3, 1, 1)
    x = F.conv2d((images - mean) / std, p['visual.conv1.weight'], stride=c['patchSize'])
    W = x.shape[1]
    x = x.reshape(B, W, -1).permute(0, 2, 1)
    cls = p['visual.class_embedding'].view(1, 1, W).expand(B, 1, W)
    x = torch.cat([cls, x], dim=1) + p['visual.positional_embedding']
    x = layer_norm(x, p, 'visual.ln_pre')
    for i in range(c['visionLayers']):
        x = block(x, p, f'visual.h.{i}', c['visionHeads'], causal=False)
    return layer_norm(x[:, 0], p, 'visual.ln_post') @ p['visual.proj.weight']


def clip_forward(p, c, images, ids):
    img = encode_image(p, c, images)
    txt = encode_text(p, c, ids)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    scale = p['logit_scale'].exp().clamp(max=100)
    logits = scale * img @ txt.t()
    targets = torch.arange(logits.shape[0])
    loss = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
    return img, txt, logits, loss


GRAD_NAMES = ['logit_scale', 'text.text_projection.weight', 'visual.proj.weight', 'visual.class_embedding']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    c = CONFIG
    gen = torch.Generator().manual_seed(20240611)
    weights = make_weights(c, gen)
    S = c['imageSize']
    images = torch.rand(len(TEXTS), 3, S, S, generator=gen, dtype=torch.float64).to(torch.float32)
    ids = torch.full((len(TEXTS), c['textLength']), c['padId'], dtype=torch.int64)
    for i, t in enumerate(TEXTS):
        ids[i, :len(t)] = torch.tensor(t)

    ref = {'images': images, 'text_ids': ids}
    for case, scale_value in (('', None), ('clamped_', 5.0)):
        p = {k: v.to(torch.float64).clone().requires_grad_(True) for k, v in weights.items()}
        if scale_value is not None:
            with torch.no_grad():
                p['logit_scale'].fill_(scale_value)  # exp(5) = 148.4 > 100: the clamp holds
        img, txt, logits, loss = clip_forward(p, c, images.to(torch.float64), ids)
        loss.backward()
        if not case:
            ref['image_embeds'] = img.detach()
            ref['text_embeds'] = txt.detach()
        ref[f'{case}logits_per_image'] = logits.detach()
        ref[f'{case}loss'] = loss.detach()
        for name in GRAD_NAMES:
            ref[f'{case}grad.{name}'] = p[name].grad.detach()
    ref = {k: (v.contiguous() if v.dtype == torch.int64 else v.to(torch.float32).contiguous()) for k, v in ref.items()}

    model_dir = os.path.join(args.out, 'model')
    os.makedirs(model_dir, exist_ok=True)
    save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(model_dir, 'model.safetensors'),
              metadata={'format': 'pt', 'model_type': 'tessera-clip'})
    with open(os.path.join(model_dir, 'config.json'), 'w') as f:
        json.dump({'model_type': 'tessera-clip', **c, 'tokenizer_fingerprint': 'fixture-ids'}, f, indent=2)
        f.write('\n')
    save_file(ref, os.path.join(args.out, 'reference.safetensors'),
              metadata={'torch': torch.__version__, 'grads': json.dumps(GRAD_NAMES), 'clamped_logit_scale': '5.0'})
    print(f"wrote {args.out}: loss {float(ref['loss']):.6f}, clamped loss {float(ref['clamped_loss']):.6f}, "
          f"d loss / d logit_scale {float(ref['grad.logit_scale']):.6f}")


if __name__ == '__main__':
    main()
