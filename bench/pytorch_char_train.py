#!/usr/bin/python3
"""PyTorch peer for the learning-quality benchmark (nanoGPT's CPU shakespeare_char recipe on Moby-Dick):

    node --import tsx bench/export-corpus.ts moby-dick > /tmp/moby.txt
    /usr/bin/python3 bench/pytorch_char_train.py --text /tmp/moby.txt [--steps 2000] [--threads 2]

Same recipe as `tessera lm train --corpus moby-dick --tokenizer char --layers 4 --heads 4 --embd 128 --block 64
--batch 12 --steps 2000 --lr 1e-3 --min-lr 1e-4 --warmup 100 --beta2 0.99 --dropout 0`: character vocabulary =
sorted unique characters, first 90% of characters train / last 10% validation, GPT with no biases (nanoGPT
bias=False), tied embeddings, GELU tanh, AdamW(β1 0.9, β2 0.99, weight decay 0.1 on matrices only), clip 1.0,
linear warmup then cosine decay to min-lr, validation loss averaged over --eval-iters random batches (nanoGPT: 200).
Prints one JSON line with val_loss, train_loss, seconds (training loop wall clock incl. evaluations).
"""
import argparse, json, math, os, sys, time

sys.path.insert(0, os.path.dirname(__file__))
try:
    from peer_blas import prefer_openmp_openblas  # same BLAS selection as the other peers
    prefer_openmp_openblas()
except Exception:  # noqa: BLE001
    pass

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--text", required=True)
p.add_argument("--layers", type=int, default=4)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--embd", type=int, default=128)
p.add_argument("--block", type=int, default=64)
p.add_argument("--batch", type=int, default=12)
p.add_argument("--steps", type=int, default=2000)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--min-lr", type=float, default=1e-4)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--beta2", type=float, default=0.99)
p.add_argument("--eval-interval", type=int, default=250)
p.add_argument("--eval-iters", type=int, default=200)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1337)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

text = open(a.text, encoding="utf-8").read()
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
n = int(0.9 * len(data))
train_data, val_data = data[:n], data[n:]
V, T, C, B = len(chars), a.block, a.embd, a.batch


def get_batch(split):
    d = train_data if split == "train" else val_data
    ix = torch.randint(len(d) - T, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + 1 + T] for i in ix])


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, bias=False) if "bias" in nn.LayerNorm.__init__.__code__.co_varnames else nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.c_proj = nn.Linear(C, C, bias=False)
        self.ln_2 = nn.LayerNorm(C, bias=False) if "bias" in nn.LayerNorm.__init__.__code__.co_varnames else nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C, bias=False)
        self.proj = nn.Linear(4 * C, C, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)).view(1, 1, T, T))

    def forward(self, x):
        b, t, c = x.shape
        h = a.heads
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (z.view(b, t, h, c // h).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // h)
        att = F.softmax(att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block() for _ in range(a.layers)])
        self.ln_f = nn.LayerNorm(C)
        self.apply(self._init)
        for name, prm in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("proj.weight"):
                nn.init.normal_(prm, 0.0, 0.02 / math.sqrt(2 * a.layers))

    def _init(self, m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, V), targets.view(-1))


model = GPT()
decay = [p_ for p_ in model.parameters() if p_.dim() >= 2]
no_decay = [p_ for p_ in model.parameters() if p_.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=a.lr, betas=(0.9, a.beta2), eps=1e-8)


def lr_at(it):
    if it < a.warmup:
        return a.lr * (it + 1) / (a.warmup + 1)
    if it > a.steps:
        return a.min_lr
    r = (it - a.warmup) / max(1, a.steps - a.warmup)
    return a.min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (a.lr - a.min_lr)


@torch.no_grad()
def evaluate():
    model.eval()
    out = sum(model(*get_batch("val")).item() for _ in range(a.eval_iters)) / a.eval_iters
    model.train()
    return out


t0 = time.time()
val = float("nan")
loss = torch.tensor(float("nan"))
for it in range(a.steps):
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    x, y = get_batch("train")
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if (it + 1) % a.eval_interval == 0 or it + 1 == a.steps:
        val = evaluate()
secs = time.time() - t0
print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "val_loss": val, "train_loss": loss.item(),
                  "steps": a.steps, "seconds": secs, "tokens_per_s": a.steps * B * T / secs, "vocab": V}))
