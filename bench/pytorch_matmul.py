#!/usr/bin/python3
"""PyTorch peer: square fp32 matmul throughput on CPU.

    /usr/bin/python3 bench/pytorch_matmul.py [--sizes 512,1024,2048] [--repeats 5] [--threads 2]

For each n prints one JSON line {"peer":"pytorch","n":n,"gflops":..,"ms":..}
where ms is the median of `repeats` timed torch.mm calls (after 2 warmup
calls, output preallocated via out=) and gflops = 2 n^3 / median seconds.

BLAS note: Debian's python3-torch routes sgemm to the system libblas.so.3
(torch.__config__ says BLAS_INFO=generic); it must resolve to OpenBLAS (a
reference-BLAS libblas gives ~1-2 GFLOP/s). The script prefers Debian's OpenMP
build of OpenBLAS (see below); for a bare GEMM the pthread and OpenMP builds
measure the same. OPENBLAS_CORETYPE: unset on the 2-core AMD EPYC (Zen 4) dev
box, where OpenBLAS 0.3.21 autodetects the core as Cooperlake; forcing
Haswell, Zen or SkylakeX gave the same rate within run-to-run noise (Prescott,
i.e. no AVX kernels, is 2-4x slower), so leaving it unset is right.
"""


import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_blas import loaded_blas as _loaded_blas, prefer_openmp_openblas as _prefer_openmp_openblas  # noqa: E402

if __name__ == "__main__":
    _prefer_openmp_openblas()

import argparse
import json
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for n in [int(s) for s in a.sizes.split(",") if s]:
        x = torch.randn(n, n, dtype=torch.float32)
        y = torch.randn(n, n, dtype=torch.float32)
        out = torch.empty(n, n, dtype=torch.float32)
        for _ in range(a.warmup):
            torch.mm(x, y, out=out)
        blas = _loaded_blas()
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            torch.mm(x, y, out=out)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(json.dumps({
            "peer": "pytorch",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "blas": blas,
            "n": n,
            "gflops": round(2.0 * n ** 3 / med / 1e9, 2),
            "ms": round(med * 1000.0, 3),
            "repeats": a.repeats,
        }), flush=True)


if __name__ == "__main__":
    main()
