#!/usr/bin/env python3
"""PyTorch peer of bench/score.ts: log-likelihood scoring of (context, continuation) requests the way
lm-evaluation-harness's HF backend (lm_eval/models/huggingface.py, HFLM._loglikelihood_tokens) does it.

    python bench/pytorch_score.py --weights W.safetensors --requests R.json \\
        --layers 4 --heads 4 --embd 256 --block 1024 --vocab 50257 --batch 16 [--threads 2] [--dump-logprobs 20]

W.safetensors and R.json come from `tessera bench score --save-weights W --dump-requests R` (the same random GPT
weights, Hugging Face GPT-2 names, Conv1D layout). The model is transformers' GPT2LMHeadModel (what the harness's
HF backend loads for GPT-2), eval mode, torch.no_grad(). Per request, as the harness does:
  - tokens = (context + continuation)[-(block + 1):][:-1]  (truncated from the left, last token dropped);
  - requests sorted by -len(context + continuation), then by the tokens (the harness's Collator sort key);
  - batches of --batch requests, right-padded with token 0 to the longest in the batch, one forward per batch;
  - log_softmax over the whole (B, T, V) logits, then per request the continuation's positions are sliced out, the
    greedy check done, and the continuation tokens gathered and summed.
No prefix reuse: the shared few-shot block is recomputed for every request.
Timed: the whole loop over all batches (one untimed warm-up batch first). Prints one JSON line.
"""

import argparse
import json
import platform
import resource
import time

import torch
import torch.nn.functional as F


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def load_gpt2(weights, layers, heads, embd, block, vocab):
    """GPT2LMHeadModel with tessera's weights (HF names; the head is tied to wte)."""
    from safetensors.torch import load_file
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab, n_positions=block, n_embd=embd, n_layer=layers, n_head=heads,
                     activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                     bos_token_id=vocab - 1, eos_token_id=vocab - 1)
    model = GPT2LMHeadModel(cfg)
    sd = load_file(weights)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match GPT2LMHeadModel: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        model.lm_head.weight = model.transformer.wte.weight
    model.eval()
    return model


def loglikelihood_tokens(model, requests, batch, max_length):
    """HFLM._loglikelihood_tokens without the caching/grouping bookkeeping; returns [(logprob, is_greedy)]."""
    order = sorted(range(len(requests)), key=lambda i: (-len(requests[i][0]) - len(requests[i][1]), tuple(requests[i][0] + requests[i][1])))
    results = [None] * len(requests)
    for s0 in range(0, len(order), batch):
        chunk = order[s0:s0 + batch]
        inps, conts, inplens = [], [], []
        padding_len_inp = None
        for i in chunk:
            ctx, cont = requests[i]
            inp = torch.tensor((ctx + cont)[-(max_length + 1):][:-1], dtype=torch.long)
            (inplen,) = inp.shape
            padding_len_inp = max(padding_len_inp, inplen) if padding_len_inp is not None else inplen
            inps.append(inp)
            conts.append(cont)
            inplens.append(inplen)
        batched = torch.stack([F.pad(t, (0, padding_len_inp - t.shape[0]), value=0) for t in inps])  # right padding
        with torch.no_grad():
            multi_logits = F.log_softmax(model(batched).logits, dim=-1)
        for i, logits, inplen, cont in zip(chunk, multi_logits, inplens, conts):
            contlen = len(cont)
            ctxlen = inplen + (logits.shape[0] - padding_len_inp)
            logits = logits[ctxlen - contlen:ctxlen].unsqueeze(0)  # (1, contlen, V)
            greedy = logits.argmax(dim=-1)
            cont_toks = torch.tensor(cont, dtype=torch.long).unsqueeze(0)
            max_equal = bool((greedy == cont_toks).all())
            lp = torch.gather(logits, 2, cont_toks.unsqueeze(-1)).squeeze(-1)
            results[i] = (float(lp.sum()), max_equal)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--requests", required=True)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--embd", type=int, default=256)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dump-logprobs", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.requests) as f:
        data = json.load(f)
    requests = [(r["context"], r["continuation"]) for r in data["requests"]]
    questions = data.get("questions", len(requests))
    model = load_gpt2(a.weights, a.layers, a.heads, a.embd, a.block, a.vocab)
    loglikelihood_tokens(model, requests[:a.batch], a.batch, a.block)  # warm-up (one batch)
    t0 = time.perf_counter()
    res = loglikelihood_tokens(model, requests, a.batch, a.block)
    secs = time.perf_counter() - t0
    tokens = sum(len((c + x)[-(a.block + 1):]) - 1 for c, x in requests)
    out = {
        "peer": "pytorch (lm-eval HF backend style)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "cpu": cpu_model(),
        "params": sum(p.numel() for p in model.parameters()),
        "questions": questions,
        "requests": len(requests),
        "batch": a.batch,
        "questions_per_s": questions / secs,
        "requests_per_s": len(requests) / secs,
        "seconds": secs,
        "tokens_computed": tokens,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_s": cpu_seconds(),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
    }
    if a.dump_logprobs:
        out["loglikelihoods"] = [r[0] for r in res[:a.dump_logprobs]]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
