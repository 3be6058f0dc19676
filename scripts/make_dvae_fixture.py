#!/usr/bin/env python3
"""Fixtures for test/image/dvae.test.ts, from OpenAI's own `dall_e` code (shared/oracles/dall_e).

1. Builds a tiny dall_e.Encoder / dall_e.Decoder (4 groups as OpenAI's code always has, n_hid 8, 1 block per group,
   vocab 16, n_init 8; attrs validators are switched off because OpenAI's classes demand n_hid >= 64 and
   vocab >= 512), with random weights and random (non-zero) biases, and pickles them whole with torch.save, as
   OpenAI's released encoder.pkl / decoder.pkl are.
2. Runs scripts/convert_openai_dvae.py on the pickles -> <out>/openai (config.json + encoder/decoder safetensors),
   so the converter itself is what the tests load.
3. Stores OpenAI's outputs on a fixed 2x3x24x24 batch in <out>/oracle.safetensors: the input, the encoder logits
   of map_pixels(x), argmax tokens, the decoder output on their one-hot, the reconstruction
   unmap_pixels(sigmoid(x_stats[:, :3])) (as OpenAI's usage notebook) and the decoder output on softmax(logits).
4. Stores a float64 case of the logit-Laplace NLL, the KL to the uniform prior and the total dVAE loss with its
   gradients in <out>/loss.safetensors.

    python scripts/make_dvae_fixture.py [--out test/fixtures/dvae] [--pickles DIR] [--pickles-only]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ORACLES = os.environ.get('TESSERA_ORACLES', os.path.join(HERE, '..', '..', 'shared', 'oracles'))
if not os.path.isdir(os.path.join(ORACLES, 'dall_e')):
    ORACLES = '/work/shared/oracles'
sys.path.insert(0, ORACLES)

import attr  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from dall_e import Encoder, Decoder, map_pixels, unmap_pixels  # noqa: E402

TINY = dict(n_hid=8, n_blk_per_group=1, vocab_size=16)
N_INIT = 8
SIZE = 24
SEED = 20210224


def build_modules():
    torch.manual_seed(SEED)
    attr.validators.set_disabled(True)
    try:
        enc = Encoder(input_channels=3, **TINY)
        dec = Decoder(n_init=N_INIT, output_channels=3, **TINY)
    finally:
        attr.validators.set_disabled(False)
    with torch.no_grad():
        for m in (enc, dec):
            for name, p in m.named_parameters():
                if name.endswith('.b'):
                    p.normal_(std=0.1)
        # sharper logits, so the argmax tokens vary over the grid instead of following the output bias
        enc.blocks.output.conv.w.mul_(20.0)
        # centre the output conv on the fixture batch (bias = -W . mean feature), so the argmax follows the
        # per-position features rather than their common mean and the tokens vary over the grid
        feats = torch.relu(enc.blocks[:-1](map_pixels(fixture_input())))  # (N, 8 n_hid, h, w)
        w = enc.blocks.output.conv.w[:, :, 0, 0]  # (K, 8 n_hid)
        enc.blocks.output.conv.b.copy_(-(w @ feats.mean((0, 2, 3))) + 0.01 * torch.randn(w.shape[0]))
    return enc.eval(), dec.eval()


def write_pickles(folder):
    enc, dec = build_modules()
    os.makedirs(folder, exist_ok=True)
    torch.save(enc, os.path.join(folder, 'encoder.pkl'))
    torch.save(dec, os.path.join(folder, 'decoder.pkl'))
    return enc, dec


DT = {torch.float32: ('F32', '<f4'), torch.float64: ('F64', '<f8'), torch.int64: ('I64', '<i8')}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        code, np_dt = DT[t.dtype]
        data = t.numpy().astype(np_dt).tobytes()
        header[name] = {'dtype': code, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)) + raw + b''.join(blobs))


def fixture_input():
    g = torch.Generator().manual_seed(7)
    # a saturated colour per 8x8 cell (one cell per token) plus fine noise
    base = (torch.rand(2, 3, SIZE // 8, SIZE // 8, generator=g) > 0.5).float()
    x = F.interpolate(base, size=(SIZE, SIZE), mode='nearest')
    return (0.85 * x + 0.15 * torch.rand(2, 3, SIZE, SIZE, generator=g)).clamp(0, 1).float()


def oracle(enc, dec):
    x = fixture_input()
    with torch.no_grad():
        logits = enc(map_pixels(x))  # (N, K, h, w)
        tokens = torch.argmax(logits, dim=1)  # (N, h, w)
        z = F.one_hot(tokens, num_classes=enc.vocab_size).permute(0, 3, 1, 2).float()
        x_stats = dec(z).float()  # (N, 6, S, S)
        recon = unmap_pixels(torch.sigmoid(x_stats[:, :3]))
        soft_stats = dec(torch.softmax(logits, dim=1)).float()
    distinct = len(set(tokens.flatten().tolist()))
    assert distinct >= 5, f'only {distinct} distinct tokens; the fixture would not test the argmax'
    return {'input': x, 'logits': logits, 'tokens': tokens.long(), 'dec_out': x_stats, 'recon': recon, 'soft_dec_out': soft_stats}


def loss_case():
    """A float64 case: x (1, 3, 4, 4) in [0, 1], decoder stats, logits (1, 5, 2, 2), beta 0.7."""
    g = torch.Generator().manual_seed(3)
    eps = 0.1
    x = torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64)
    mu = (torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64) - 0.5) * 4
    lnb = (torch.rand(1, 3, 4, 4, generator=g, dtype=torch.float64) - 0.5) * 2
    logits = (torch.rand(1, 5, 2, 2, generator=g, dtype=torch.float64) - 0.5) * 6
    beta = torch.tensor([0.7], dtype=torch.float64)
    mu.requires_grad_(True)
    lnb.requires_grad_(True)
    logits.requires_grad_(True)
    xm = (1 - 2 * eps) * x + eps
    b = torch.exp(lnb)
    nll = (torch.log(xm / (1 - xm)) - mu).abs() / b + torch.log(2 * b) + torch.log(xm * (1 - xm))  # (N, C, H, W)
    logq = torch.log_softmax(logits, dim=1)
    kl = (logq.exp() * (logq + torch.log(torch.tensor(5.0, dtype=torch.float64)))).sum(1)  # (N, h, w)
    pixels = 3 * 4 * 4
    total = (nll.sum((1, 2, 3)) + beta * kl.sum((1, 2))).mean() / pixels
    gmu, glnb, glogits = torch.autograd.grad(total, [mu, lnb, logits])
    return {
        'x': x, 'mu': mu.detach(), 'lnb': lnb.detach(), 'logits': logits.detach(), 'beta': beta,
        'nll': nll.detach(), 'kl': kl.detach(), 'total': total.detach().reshape(1),
        'grad_mu': gmu, 'grad_lnb': glnb, 'grad_logits': glogits,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(HERE, '..', 'test', 'fixtures', 'dvae'))
    ap.add_argument('--pickles', default=None, help='keep the pickled modules in this folder (default: a temp dir)')
    ap.add_argument('--pickles-only', action='store_true', help='only write the pickles (for the live converter test)')
    args = ap.parse_args()
    pickles = args.pickles or tempfile.mkdtemp(prefix='dvae-pickles-')
    enc, dec = write_pickles(pickles)
    if args.pickles_only:
        print(f'wrote {pickles}/encoder.pkl, decoder.pkl')
        return
    os.makedirs(args.out, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, 'convert_openai_dvae.py'), '--encoder', os.path.join(pickles, 'encoder.pkl'),
                    '--decoder', os.path.join(pickles, 'decoder.pkl'), '--out', os.path.join(args.out, 'openai'),
                    '--input-size', str(SIZE), '--dall-e-path', ORACLES], check=True)
    write_safetensors(os.path.join(args.out, 'oracle.safetensors'), oracle(enc, dec))
    write_safetensors(os.path.join(args.out, 'loss.safetensors'), loss_case())
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print(f'wrote {args.out} ({total} bytes)')


if __name__ == '__main__':
    main()
