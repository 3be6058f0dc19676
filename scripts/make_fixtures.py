#!/usr/bin/python3
"""Golden fixtures for tessera, generated with PyTorch.

Run with the Debian interpreter (the one that has python3-torch):

    /usr/bin/python3 scripts/make_fixtures.py

Writes (all float32 / int64, little-endian, hand-written safetensors):

  test/fixtures/gpt2_stack.safetensors       2-layer GPT-2 (HF Conv1D layout):
                                             forward, grads, 3 AdamW steps
  test/fixtures/conv_autoencoder.safetensors small conv encoder/decoder:
                                             forward, grads, 3 AdamW steps
  test/fixtures/hf_gpt2_tiny/                tiny random GPT-2 in Hugging Face
                                             layout (config.json,
                                             model.safetensors) +
                                             expected.safetensors

The output is deterministic: fixed seeds, a single intra-op thread, and no
dependency on the `safetensors` Python package (the writer is below).
See test/fixtures/README.md for the key lists.
"""

import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

# Deterministic reductions: one intra-op thread (fixtures are tiny anyway).
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------------
# safetensors writer (format: u64 LE header length N, N bytes of JSON header
# padded with spaces to a multiple of 8, then the raw little-endian buffers)
# --------------------------------------------------------------------------

_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor) pairs, written in that order."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors:
        if name in header:
            raise ValueError("duplicate tensor name " + name)
        t = t.detach().contiguous().cpu()
        if t.dtype not in _DTYPES:
            raise TypeError("%s: unsupported dtype %s" % (name, t.dtype))
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": _DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise TypeError("metadata %s must be a string" % k)
        header["__metadata__"] = dict(metadata)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def load_safetensors(path):
    """Minimal reader, used only to self-check the writer."""
    import numpy as np

    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


# --------------------------------------------------------------------------
# GPT-2 reference (from scratch, Hugging Face Conv1D orientation: y = x@W+b)
# --------------------------------------------------------------------------


def gpt2_param_specs(cfg):
    """Ordered (name, shape) list, HF GPT-2 naming without the `transformer.` prefix."""
    V, T, C, L = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    specs = [("wte.weight", (V, C)), ("wpe.weight", (T, C))]
    for i in range(L):
        p = "h.%d." % i
        specs += [
            (p + "ln_1.weight", (C,)),
            (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)),
            (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)),
            (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)),
            (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, 4 * C)),
            (p + "mlp.c_fc.bias", (4 * C,)),
            (p + "mlp.c_proj.weight", (4 * C, C)),
            (p + "mlp.c_proj.bias", (C,)),
        ]
    specs += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return specs


def gpt2_init(cfg, gen):
    """nanoGPT-style init, but with non-zero biases / non-unit LN so every
    gradient is exercised."""
    L = cfg["n_layer"]
    params = {}
    for name, shape in gpt2_param_specs(cfg):
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("ln_1.bias") or name.endswith("ln_2.bias") or name == "ln_f.bias":
            t = 0.1 * torch.randn(shape, generator=gen)
        elif name.endswith("c_proj.weight"):
            t = (0.02 / math.sqrt(2 * L)) * torch.randn(shape, generator=gen)
        elif name.endswith(".bias"):
            t = 0.02 * torch.randn(shape, generator=gen)
        else:  # wte, wpe, c_attn.weight, c_fc.weight
            t = 0.02 * torch.randn(shape, generator=gen)
        params[name] = t.float()
    return params


def gpt2_forward(params, idx, cfg):
    """Returns logits (B, T, V). Pre-LN, causal attention, GELU(tanh), tied head."""
    B, T = idx.shape
    C, nh = cfg["n_embd"], cfg["n_head"]
    hd = C // nh
    eps = cfg["layer_norm_epsilon"]
    pos = torch.arange(T, dtype=torch.int64)
    x = params["wte.weight"][idx] + params["wpe.weight"][pos][None, :, :]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        p = "h.%d." % i
        h = F.layer_norm(x, (C,), params[p + "ln_1.weight"], params[p + "ln_1.bias"], eps)
        qkv = h @ params[p + "attn.c_attn.weight"] + params[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q = q.view(B, T, nh, hd).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, nh, hd).transpose(1, 2)
        v = v.view(B, T, nh, hd).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(~causal, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        y = y @ params[p + "attn.c_proj.weight"] + params[p + "attn.c_proj.bias"]
        x = x + y
        h = F.layer_norm(x, (C,), params[p + "ln_2.weight"], params[p + "ln_2.bias"], eps)
        h = h @ params[p + "mlp.c_fc.weight"] + params[p + "mlp.c_fc.bias"]
        h = F.gelu(h, approximate="tanh")
        h = h @ params[p + "mlp.c_proj.weight"] + params[p + "mlp.c_proj.bias"]
        x = x + h
    x = F.layer_norm(x, (C,), params["ln_f.weight"], params["ln_f.bias"], eps)
    return x @ params["wte.weight"].t()  # tied lm head


def gpt2_loss(logits, targets):
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1, reduction="mean")


# --------------------------------------------------------------------------
# Shared AdamW training loop
# --------------------------------------------------------------------------


def train_steps(names, params, loss_fn, param_groups_spec, optim_kw, max_norm, steps):
    """names: ordered param names; params: dict name -> leaf tensor (requires_grad).
    param_groups_spec: list of (list_of_names, weight_decay).
    Returns list of (params_after_step, loss_before, grad_norm) per step."""
    groups = [{"params": [params[n] for n in ns], "weight_decay": wd} for ns, wd in param_groups_spec]
    opt = torch.optim.AdamW(groups, foreach=False, maximize=False, amsgrad=False, **optim_kw)
    ordered = [params[n] for n in names]
    out = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(params)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(ordered, max_norm)
        opt.step()
        out.append(({n: params[n].detach().clone() for n in names}, loss.detach().clone(), gn.detach().clone()))
    return out


def grads_at(names, params, loss_fn):
    leaves = {n: params[n].detach().clone().requires_grad_(True) for n in names}
    loss = loss_fn(leaves)
    gs = torch.autograd.grad(loss, [leaves[n] for n in names])
    return loss.detach(), dict(zip(names, [g.detach() for g in gs]))


def total_norm(grads):
    # Same as clip_grad_norm_ (norm of the per-tensor 2-norms).
    return torch.norm(torch.stack([torch.norm(g.detach(), 2.0) for g in grads]), 2.0)


def f32(x):
    return torch.tensor(float(x), dtype=torch.float32)


def check_f64(name, params32, loss_fn, grads32, atol_rel=1e-3):
    """Sanity check: the float32 gradients agree with a float64 recomputation."""
    names = list(params32.keys())
    p64 = {n: params32[n].detach().double().requires_grad_(True) for n in names}
    loss = loss_fn(p64)
    gs = torch.autograd.grad(loss, [p64[n] for n in names])
    worst = 0.0
    for n, g in zip(names, gs):
        scale = max(float(g.abs().max()), 1e-12)
        err = float((grads32[n].double() - g).abs().max()) / scale
        worst = max(worst, err)
    status = "ok" if worst < atol_rel else "WARN"
    print("  [%s] float64 grad check: max rel err %.2e (%s)" % (name, worst, status))


# --------------------------------------------------------------------------
# (a) gpt2_stack
# --------------------------------------------------------------------------


def make_gpt2_stack():
    cfg = dict(
        vocab_size=64,
        n_positions=16,  # block size
        n_embd=32,
        n_head=4,
        n_layer=2,
        layer_norm_epsilon=1e-5,
        activation_function="gelu_new",  # GELU, tanh approximation
        bias=True,
        tied_embeddings=True,
        pre_ln=True,
        dropout=0.0,
    )
    B, T = 2, 16
    seed = 1234
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    init = gpt2_init(cfg, gen)
    names = [n for n, _ in gpt2_param_specs(cfg)]
    idx = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen, dtype=torch.int64)
    targets = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen, dtype=torch.int64)
    ignore_pos = [(0, 3), (1, 0), (1, 15)]
    for b, t in ignore_pos:
        targets[b, t] = -1

    def loss_fn(ps):
        return gpt2_loss(gpt2_forward(ps, idx, cfg), targets)

    with torch.no_grad():
        logits = gpt2_forward(init, idx, cfg)
    loss0, grads = grads_at(names, init, loss_fn)
    check_f64("gpt2_stack", init, loss_fn, grads)
    gnorm0 = total_norm([grads[n] for n in names])
    clip = float(0.5 * gnorm0)

    decay = [n for n in names if len(init[n].shape) >= 2]
    no_decay = [n for n in names if len(init[n].shape) < 2]
    optim_kw = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    wd = 0.1
    leaves = {n: init[n].clone().requires_grad_(True) for n in names}
    steps = train_steps(names, leaves, loss_fn, [(decay, wd), (no_decay, 0.0)], optim_kw, clip, 3)

    tensors = [("init." + n, init[n]) for n in names]
    tensors += [("input.idx", idx), ("input.targets", targets)]
    tensors += [("out.logits", logits), ("out.loss", loss0.reshape(()))]
    tensors += [("grad." + n, grads[n]) for n in names]
    tensors += [("meta.clip", f32(clip))]
    for k, (ps, l, gn) in enumerate(steps, start=1):
        tensors += [("step%d.%s" % (k, n), ps[n]) for n in names]
        tensors += [("step%d.loss" % k, l.reshape(())), ("step%d.grad_norm" % k, gn.reshape(()).float())]

    metadata = {
        "fixture": "gpt2_stack",
        "config": json.dumps(cfg),
        "batch": json.dumps({"B": B, "T": T, "ignore_index": -1, "ignored_positions": ignore_pos}),
        "loss": json.dumps("mean cross-entropy over targets != -1"),
        "layout": json.dumps("HF GPT-2 Conv1D: weights (in, out), y = x @ W + b; c_attn columns = [q | k | v], heads view(B,T,nh,hd); lm_head = wte (tied)"),
        "optimizer": json.dumps(dict(
            type="torch.optim.AdamW", lr=1e-2, betas=[0.9, 0.95], eps=1e-8,
            weight_decay=wd, decay_rule="dim>=2 -> weight_decay, else 0",
            foreach=False, amsgrad=False, steps=3,
        )),
        "decay_params": json.dumps(decay),
        "no_decay_params": json.dumps(no_decay),
        "clip": json.dumps(clip),
        "clip_rule": json.dumps("torch.nn.utils.clip_grad_norm_(all params, clip, norm_type=2) before each step; coef = min(1, clip/(total_norm+1e-6)); clip = 0.5 * initial grad norm"),
        "param_names": json.dumps(names),
        "init": json.dumps("weights/embeddings N(0,0.02); c_proj weights N(0,0.02/sqrt(2*n_layer)); biases N(0,0.02); LN weight 1+N(0,0.1); LN bias N(0,0.1)"),
        "seed": json.dumps(seed),
        "torch_version": torch.__version__,
    }
    path = os.path.join(OUT_DIR, "gpt2_stack.safetensors")
    size = save_safetensors(path, tensors, metadata)
    print("wrote %s (%d bytes, %d tensors) loss=%.6f gnorm0=%.6f clip=%.6f" % (path, size, len(tensors), float(loss0), float(gnorm0), clip))
    for k, (_, l, gn) in enumerate(steps, start=1):
        print("  step%d loss=%.6f grad_norm=%.6f" % (k, float(l), float(gn)))
    return path, tensors, metadata


# --------------------------------------------------------------------------
# (b) conv_autoencoder
# --------------------------------------------------------------------------

CONV_SPECS = [
    ("enc.conv1.weight", (8, 3, 3, 3)),
    ("enc.conv1.bias", (8,)),
    ("enc.conv2.weight", (16, 8, 3, 3)),
    ("enc.conv2.bias", (16,)),
    ("dec.conv1.weight", (8, 16, 3, 3)),
    ("dec.conv1.bias", (8,)),
    ("dec.convt.weight", (8, 3, 4, 4)),  # ConvTranspose2d: (in, out, kH, kW)
    ("dec.convt.bias", (3,)),
]


def conv_forward(ps, x):
    x = x.to(ps["enc.conv1.weight"].dtype)  # no-op in float32; lets check_f64 run in float64
    h = F.conv2d(x, ps["enc.conv1.weight"], ps["enc.conv1.bias"], stride=1, padding=1)
    h = F.relu(h)
    h = F.avg_pool2d(h, 2)  # 16 -> 8
    h = F.conv2d(h, ps["enc.conv2.weight"], ps["enc.conv2.bias"], stride=1, padding=1)
    h = F.relu(h)
    h = F.max_pool2d(h, 2)  # 8 -> 4
    h = F.interpolate(h, scale_factor=2, mode="nearest")  # 4 -> 8
    h = F.conv2d(h, ps["dec.conv1.weight"], ps["dec.conv1.bias"], stride=1, padding=1)
    h = F.relu(h)
    h = F.conv_transpose2d(h, ps["dec.convt.weight"], ps["dec.convt.bias"], stride=2, padding=1)  # 8 -> 16
    return torch.sigmoid(h)


def make_conv_autoencoder():
    seed = 4321
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    names = [n for n, _ in CONV_SPECS]
    # PyTorch default init (kaiming_uniform a=sqrt(5) => U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    # for weights and biases); fan_in for ConvTranspose2d weight (in,out,kh,kw) is
    # computed by PyTorch from dim 1 (= out channels) * kh * kw.
    init = {}
    for n, shape in CONV_SPECS:
        wshape = dict(CONV_SPECS)[n.rsplit(".", 1)[0] + ".weight"]
        fan_in = wshape[1] * wshape[2] * wshape[3]
        bound = 1.0 / math.sqrt(fan_in)
        init[n] = ((torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound).float()
    x = torch.rand((2, 3, 16, 16), generator=gen)
    y = torch.rand((2, 3, 16, 16), generator=gen)

    def loss_fn(ps):
        r = conv_forward(ps, x)
        return F.mse_loss(r, y.to(r.dtype), reduction="mean")

    with torch.no_grad():
        recon = conv_forward(init, x)
    loss0, grads = grads_at(names, init, loss_fn)
    check_f64("conv_autoencoder", init, loss_fn, grads)
    gnorm0 = total_norm([grads[n] for n in names])
    clip = float(0.5 * gnorm0)
    optim_kw = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    wd = 0.01
    leaves = {n: init[n].clone().requires_grad_(True) for n in names}
    steps = train_steps(names, leaves, loss_fn, [(names, wd)], optim_kw, clip, 3)

    tensors = [("init." + n, init[n]) for n in names]
    tensors += [("input.x", x), ("input.y", y)]
    tensors += [("out.recon", recon), ("out.loss", loss0.reshape(()))]
    tensors += [("grad." + n, grads[n]) for n in names]
    tensors += [("meta.clip", f32(clip))]
    for k, (ps, l, gn) in enumerate(steps, start=1):
        tensors += [("step%d.%s" % (k, n), ps[n]) for n in names]
        tensors += [("step%d.loss" % k, l.reshape(())), ("step%d.grad_norm" % k, gn.reshape(()).float())]

    metadata = {
        "fixture": "conv_autoencoder",
        "architecture": json.dumps([
            "enc.conv1 Conv2d(3,8,k=3,s=1,p=1)", "ReLU", "AvgPool2d(2)",
            "enc.conv2 Conv2d(8,16,k=3,s=1,p=1)", "ReLU", "MaxPool2d(2)",
            "Upsample(scale_factor=2, mode=nearest)",
            "dec.conv1 Conv2d(16,8,k=3,s=1,p=1)", "ReLU",
            "dec.convt ConvTranspose2d(8,3,k=4,s=2,p=1)", "Sigmoid",
        ]),
        "layout": json.dumps("Conv2d weight (out,in,kH,kW) OIHW; ConvTranspose2d weight (in,out,kH,kW); NCHW activations"),
        "loss": json.dumps("mean squared error over all elements (F.mse_loss, reduction=mean)"),
        "optimizer": json.dumps(dict(
            type="torch.optim.AdamW", lr=1e-2, betas=[0.9, 0.999], eps=1e-8,
            weight_decay=wd, decay_rule="all params", foreach=False, amsgrad=False, steps=3,
        )),
        "clip": json.dumps(clip),
        "clip_rule": json.dumps("torch.nn.utils.clip_grad_norm_(all params, clip, norm_type=2) before each step; coef = min(1, clip/(total_norm+1e-6)); clip = 0.5 * initial grad norm"),
        "param_names": json.dumps(names),
        "init": json.dumps("U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; x, y ~ U(0,1)"),
        "seed": json.dumps(seed),
        "torch_version": torch.__version__,
    }
    path = os.path.join(OUT_DIR, "conv_autoencoder.safetensors")
    size = save_safetensors(path, tensors, metadata)
    print("wrote %s (%d bytes, %d tensors) loss=%.6f gnorm0=%.6f clip=%.6f" % (path, size, len(tensors), float(loss0), float(gnorm0), clip))
    for k, (_, l, gn) in enumerate(steps, start=1):
        print("  step%d loss=%.6f grad_norm=%.6f" % (k, float(l), float(gn)))
    return path, tensors, metadata


# --------------------------------------------------------------------------
# (c) hf_gpt2_tiny
# --------------------------------------------------------------------------


def make_hf_gpt2_tiny():
    cfg = dict(
        vocab_size=96,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        layer_norm_epsilon=1e-5,
    )
    seed = 777
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    init = gpt2_init(cfg, gen)
    names = [n for n, _ in gpt2_param_specs(cfg)]
    ids = torch.randint(0, cfg["vocab_size"], (2, 12), generator=gen, dtype=torch.int64)
    with torch.no_grad():
        logits = gpt2_forward(init, ids, cfg)

    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg["vocab_size"],
        "n_positions": cfg["n_positions"],
        "n_ctx": cfg["n_positions"],
        "n_embd": cfg["n_embd"],
        "n_layer": cfg["n_layer"],
        "n_head": cfg["n_head"],
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": cfg["layer_norm_epsilon"],
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "initializer_range": 0.02,
        "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True,
        "use_cache": True,
        "bos_token_id": cfg["vocab_size"] - 1,
        "eos_token_id": cfg["vocab_size"] - 1,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "summary_activation": None,
        "summary_proj_to_labels": True,
        "summary_first_dropout": 0.1,
        "torch_dtype": "float32",
    }
    d = os.path.join(OUT_DIR, "hf_gpt2_tiny")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    model_tensors = [("transformer." + n, init[n]) for n in names]
    model_tensors.append(("lm_head.weight", init["wte.weight"]))  # tied: same values
    s1 = save_safetensors(os.path.join(d, "model.safetensors"), model_tensors, {"format": "pt"})
    exp_tensors = [("input.ids", ids), ("out.logits", logits)]
    s2 = save_safetensors(
        os.path.join(d, "expected.safetensors"),
        exp_tensors,
        {"fixture": "hf_gpt2_tiny", "config": json.dumps(cfg), "seed": json.dumps(seed), "torch_version": torch.__version__},
    )
    print("wrote %s (model %d bytes, expected %d bytes)" % (d, s1, s2))
    return os.path.join(d, "model.safetensors"), model_tensors, os.path.join(d, "expected.safetensors"), exp_tensors


# --------------------------------------------------------------------------


def self_check(path, tensors):
    loaded, _ = load_safetensors(path)
    assert list(loaded.keys()) == [n for n, _ in tensors], path
    for n, t in tensors:
        assert loaded[n].dtype == t.dtype and tuple(loaded[n].shape) == tuple(t.shape), n
        assert torch.equal(loaded[n], t.detach()), n
    assert os.path.getsize(path) < 1 << 20, "%s is over 1 MB" % path


def main():
    print("torch", torch.__version__, file=sys.stderr)
    p, t, _ = make_gpt2_stack()
    self_check(p, t)
    p, t, _ = make_conv_autoencoder()
    self_check(p, t)
    p1, t1, p2, t2 = make_hf_gpt2_tiny()
    self_check(p1, t1)
    self_check(p2, t2)
    print("self-check ok")


if __name__ == "__main__":
    main()
