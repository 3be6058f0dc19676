#!/usr/bin/env python3
"""Convert OpenAI's released DALL-E dVAE (encoder.pkl / decoder.pkl, whole pickled `dall_e` modules) into a tessera
dVAE directory: config.json ("model_type": "tessera-dvae" plus the modules' attrs) + encoder.safetensors +
decoder.safetensors holding OpenAI's own state-dict names (blocks.input.w, blocks.group_1.block_1.res_path.conv_1.w
...) as float32.

Needs only PyTorch and the `dall_e` package (on sys.path, or via --dall-e-path). safetensors files are written by
hand (8-byte little-endian header length, JSON header, raw little-endian data), so the `safetensors` package is not
needed.

    python scripts/convert_openai_dvae.py --encoder encoder.pkl --decoder decoder.pkl --out DIR [--input-size 256]
"""

import argparse
import json
import os
import struct
import sys


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> float32 torch tensor (contiguous, CPU)."""
    header = {}
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = tensors[name].detach().to('cpu').float().contiguous()
        data = t.numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(',', ':')).encode('utf-8')
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_module(path, torch):
    with open(path, 'rb') as f:
        return torch.load(f, map_location='cpu', weights_only=False)


def attr_of(module, name, path):
    if not hasattr(module, name):
        raise SystemExit(f'{path}: the module has no attribute {name!r}; is this a dall_e Encoder/Decoder pickle?')
    return getattr(module, name)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--encoder', required=True, help="OpenAI's encoder.pkl")
    ap.add_argument('--decoder', required=True, help="OpenAI's decoder.pkl")
    ap.add_argument('--out', required=True, help='output directory')
    ap.add_argument('--input-size', type=int, default=256, help='image side the dVAE is used at (default 256)')
    ap.add_argument('--dall-e-path', default=None, help='folder holding the dall_e package (added to sys.path)')
    args = ap.parse_args(argv)
    if args.dall_e_path:
        sys.path.insert(0, args.dall_e_path)

    import torch  # noqa: E402
    import dall_e  # noqa: F401,E402  (the pickles reference dall_e.encoder / dall_e.decoder classes)

    enc = load_module(args.encoder, torch)
    dec = load_module(args.decoder, torch)
    if type(enc).__name__ != 'Encoder':
        raise SystemExit(f'{args.encoder}: expected a dall_e Encoder, got {type(enc).__name__}')
    if type(dec).__name__ != 'Decoder':
        raise SystemExit(f'{args.decoder}: expected a dall_e Decoder, got {type(dec).__name__}')

    config = {
        'model_type': 'tessera-dvae',
        'input_size': args.input_size,
        'input_channels': int(attr_of(enc, 'input_channels', args.encoder)),
        'output_channels': int(attr_of(dec, 'output_channels', args.decoder)),
        'group_count': int(attr_of(enc, 'group_count', args.encoder)),
        'n_hid': int(attr_of(enc, 'n_hid', args.encoder)),
        'n_blk_per_group': int(attr_of(enc, 'n_blk_per_group', args.encoder)),
        'vocab_size': int(attr_of(enc, 'vocab_size', args.encoder)),
        'n_init': int(attr_of(dec, 'n_init', args.decoder)),
        'quantizer': 'gumbel',
    }
    for name in ('group_count', 'n_hid', 'n_blk_per_group', 'vocab_size'):
        d = int(attr_of(dec, name, args.decoder))
        if d != config[name]:
            raise SystemExit(f'encoder and decoder disagree on {name}: encoder {config[name]}, decoder {d}')
    downsample = 2 ** (config['group_count'] - 1)
    if args.input_size % downsample != 0:
        raise SystemExit(f'--input-size {args.input_size} is not a multiple of {downsample} (2^(group_count-1))')

    os.makedirs(args.out, exist_ok=True)
    meta = {'source': 'openai dall_e', 'format': 'pt'}
    write_safetensors(os.path.join(args.out, 'encoder.safetensors'), dict(enc.state_dict()), meta)
    write_safetensors(os.path.join(args.out, 'decoder.safetensors'), dict(dec.state_dict()), meta)
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    n_enc = sum(t.numel() for t in enc.state_dict().values())
    n_dec = sum(t.numel() for t in dec.state_dict().values())
    print(f'wrote {args.out}: encoder {n_enc} parameters, decoder {n_dec} parameters, config {json.dumps(config)}')


if __name__ == '__main__':
    main()
