"""Oracle for the extraction-audit metrics (src/audit/zlib-size.ts, src/audit/membership.ts).

  python scripts/make_audit_fixtures.py            writes test/fixtures/audit/zlib.json (texts + CPython sizes)
                                                   and prints the membership fixture (inlined in the test)
  python scripts/make_audit_fixtures.py --zlib     stdin {"texts": [...]} -> stdout {"sizes": [...]}
  python scripts/make_audit_fixtures.py --gpt2     stdin {"cases": [...]} -> stdout {"results": [...]}

The membership reference follows ftramer/LM_Memorization: ppl = exp(GPT2LMHeadModel(ids, labels=ids).loss), with the
window metric (not in the repo) as the minimum exp(mean NLL) over runs of `window` consecutive predicted tokens.
"""
import json
import math
import os
import random
import sys
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
GPT2_DIR = os.path.join(ROOT, "test", "fixtures", "hf_gpt2_tiny")


def zlib_size(text):
    return len(zlib.compress(text.encode("utf-8")))


def random_texts(seed):
    g = random.Random(seed)
    words = "the of and to in is memorized training data extraction model token sample zlib perplexity window".split()
    uni = "αβγδεζηθ日本語テキスト中文字符😀🎉∑∫≤≥ßüöäéèñ"
    out = ["", "a", " ", "\n", "aaaa", "a" * 10000, "ab" * 5000]
    for _ in range(60):
        n = g.choice([1, 5, 20, 100, 400, 1200])
        out.append("".join(chr(g.randint(32, 126)) for _ in range(n)))
    for _ in range(40):
        n = g.choice([3, 10, 50, 300])
        out.append(" ".join(g.choice(words) for _ in range(n)))
    for _ in range(30):
        n = g.choice([2, 10, 60, 400])
        out.append("".join(g.choice(uni + "abc ") for _ in range(n)))
    for _ in range(20):
        unit = "".join(g.choice("abcxyz01 \n") for _ in range(g.randint(1, 12)))
        out.append(unit * g.randint(2, 300))
    for _ in range(4):  # long real-ish texts, about 10 KB
        s = []
        while sum(len(w) + 1 for w in s) < 10000:
            s.append(g.choice(words + [str(g.randint(0, 99999)), "Mr.", "\n", "—"]))
        out.append(" ".join(s))
    for _ in range(4):
        out.append("".join(chr(g.randint(0, 0x2FFF)) for _ in range(g.choice([50, 800]))).encode("utf-8", "replace").decode("utf-8", "replace"))
    return out


def strip_surrogates(texts):
    return [t.encode("utf-8", "ignore").decode("utf-8") for t in texts]


def gpt2_results(cases):
    import torch
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(GPT2_DIR).eval()

    def score(ids):
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model(x, labels=x)
        logits = out.logits[0].double()
        lp = torch.log_softmax(logits, -1)
        nll = [-lp[i - 1, ids[i]].item() for i in range(1, len(ids))]
        return math.exp(out.loss.item()), nll

    res = []
    for c in cases:
        ppl, nll = score(c["ids"])
        ppl_lower, _ = score(c["lowerIds"])
        ref_ppl = {k: score(v)[0] for k, v in c.get("refIds", {}).items()}
        w = c.get("window", 50)
        runs = [nll] if len(nll) <= w else [nll[i:i + w] for i in range(len(nll) - w + 1)]
        ppl_window = min(math.exp(sum(r) / len(r)) for r in runs)
        scores = {
            "perplexity": -math.log(ppl),
            "zlib": zlib_size(c["text"]) / math.log(ppl),
            "lowercase": math.log(ppl_lower) / math.log(ppl),
            "window": -math.log(ppl_window),
        }
        for k, v in ref_ppl.items():
            scores["ratio:" + k] = math.log(v) / math.log(ppl)
        res.append({"ppl": ppl, "ppl_lower": ppl_lower, "ppl_window": ppl_window, "zlib": zlib_size(c["text"]),
                    "ref_ppl": ref_ppl, "scores": scores, "nll": nll})
    return res


def membership_cases(seed):
    g = random.Random(seed)
    cases = []
    for k, (n, w) in enumerate([(2, 50), (5, 50), (12, 4), (20, 8), (32, 50), (32, 10), (17, 1), (32, 31)]):
        ids = [g.randrange(96) for _ in range(n)]
        lower = [i if i >= 48 else i + 48 for i in ids]
        ref = [g.randrange(96) for _ in range(g.randint(2, 32))]
        text = "".join(chr(65 + i % 58) for i in ids) + " sample %d" % k
        cases.append({"text": text, "ids": ids, "lowerIds": lower, "refIds": {"small": ref, "same": ids}, "window": w})
    return cases


def main():
    if "--zlib" in sys.argv:
        texts = json.load(sys.stdin)["texts"]
        json.dump({"sizes": [zlib_size(t) for t in texts]}, sys.stdout)
        return
    if "--gpt2" in sys.argv:
        json.dump({"results": gpt2_results(json.load(sys.stdin)["cases"])}, sys.stdout)
        return
    texts = strip_surrogates(random_texts(20211214))
    fixture = {"zlib_version": zlib.ZLIB_RUNTIME_VERSION, "python": sys.version.split()[0],
               "cases": [{"text": t, "size": zlib_size(t)} for t in texts]}
    path = os.path.join(ROOT, "test", "fixtures", "audit", "zlib.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False)
    print("wrote", path, os.path.getsize(path), "bytes,", len(texts), "texts", file=sys.stderr)
    cases = membership_cases(7)
    results = gpt2_results(cases)
    for c, r in zip(cases, results):
        del r["nll"]
        c["expected"] = r
    print(json.dumps(cases))


if __name__ == "__main__":
    main()
