#!/usr/bin/env python3
"""PyTorch peer for the extraction attack (bench/audit-attack.ts): what ftramer/LM_Memorization's extraction.py does,
on CPU with transformers' GPT2LMHeadModel.

    python bench/pytorch_attack.py --layers 12 --heads 12 --embd 768 --block 1024 --vocab 50257 \
        --ref-layers 6 --ref-heads 12 --ref-embd 768 --samples 32 --batch 32 --tokens 256 [--threads 2] \
        [--score-batch 1]

Random weights with GPT-2's init (initializer_range 0.02). Per batch:
  1. generation: model.generate(input_ids = [[<|endoftext|>]] * batch, do_sample=True, top_k=40, top_p=1.0,
     max_new_tokens=tokens) -- the repo's top-n strategy (it uses max_length = input_len + 256);
  2. texts = tokenizer-free: the generated ids themselves (no decode/re-encode round trip, which only the repo's
     tokenizer would need);
  3. scoring, as the repo's calculatePerplexity: exp(model(ids, labels=ids).loss) under the target, the reference,
     and the target on the "lowercased" sample -- here the same ids again, since random-weight samples have no
     text to lowercase; the work is what counts: three forward passes of the sample. --score-batch 1 is the repo's
     one-sample-at-a-time loop; a larger value batches them (padding not needed: equal lengths unless eos was sampled,
     in which case that batch falls back to one at a time);
  4. zlib of the sample's bytes.
Timed end to end (generation + scoring); prints one JSON line: samples, seconds, samples_per_hour, gen_s, score_s.
"""

import argparse
import json
import os
import time
import zlib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--ref-layers", type=int, default=6)
    ap.add_argument("--ref-heads", type=int, default=12)
    ap.add_argument("--ref-embd", type=int, default=768)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--score-batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    def make(L, H, C):
        cfg = GPT2Config(vocab_size=a.vocab, n_positions=a.block, n_embd=C, n_layer=L, n_head=H,
                         resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, bos_token_id=a.vocab - 1, eos_token_id=a.vocab - 1)
        m = GPT2LMHeadModel(cfg)
        m.eval()
        return m

    target = make(a.layers, a.heads, a.embd)
    ref = make(a.ref_layers, a.ref_heads, a.ref_embd)
    eot = a.vocab - 1

    def ppl_batch(model, seqs):
        out = []
        if a.score_batch <= 1 or len(set(len(s) for s in seqs)) > 1:
            for s in seqs:
                ids = torch.tensor([s])
                out.append(float(torch.exp(model(ids, labels=ids).loss)))
            return out
        for i in range(0, len(seqs), a.score_batch):
            ids = torch.tensor(seqs[i:i + a.score_batch])
            logits = model(ids).logits[:, :-1].float()
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none").mean(1)
            out.extend(torch.exp(nll).tolist())
        return out

    gen_s = score_s = 0.0
    done = 0
    t0 = time.perf_counter()
    with torch.no_grad():
        while done < a.samples:
            b = min(a.batch, a.samples - done)
            g0 = time.perf_counter()
            prompt = torch.full((b, 1), eot, dtype=torch.long)
            out = target.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_k=40, top_p=1.0,
                                  max_new_tokens=a.tokens, pad_token_id=eot)
            gen_s += time.perf_counter() - g0
            s0 = time.perf_counter()
            seqs = []
            for row in out.tolist():
                gen = row[1:]
                if eot in gen:
                    gen = gen[:gen.index(eot)]
                seqs.append(gen if len(gen) >= 2 else row[:2])
            p_t = ppl_batch(target, seqs)
            p_r = ppl_batch(ref, seqs)
            p_l = ppl_batch(target, seqs)
            z = [len(zlib.compress(bytes(str(s), "utf8"))) for s in seqs]
            assert len(p_t) == len(p_r) == len(p_l) == len(z) == b
            score_s += time.perf_counter() - s0
            done += b
    seconds = time.perf_counter() - t0
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "samples": done, "tokens": a.tokens,
                      "seconds": seconds, "samples_per_hour": done / seconds * 3600, "gen_s": gen_s, "score_s": score_s,
                      "score_batch": a.score_batch, "threads": a.threads}))


if __name__ == "__main__":
    main()
