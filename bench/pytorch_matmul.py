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


# --- BLAS selection (kept identical in bench/pytorch_*.py) -----------------
# Debian's torch calls the system libblas.so.3. The default alternative,
# openblas-pthread, runs its own spinning thread pool next to torch's libgomp
# pool; on 2 cores the two oversubscribe each other and everything between
# GEMMs (layer_norm, gelu, copies) crawls: GPT-2 decode at batch 16 was ~4x
# and the 4-layer train step ~2.5x slower than with the OpenMP build of
# OpenBLAS, which shares libgomp's pool (pure sgemm speed is the same). So,
# when Debian's libopenblas0-openmp is installed, re-exec once with it first
# on LD_LIBRARY_PATH (no system change). TESSERA_PEER_BLAS=system opts out.
import os
import sys

_OPENMP_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def _prefer_openmp_openblas():
    if os.environ.get("TESSERA_PEER_BLAS", "openmp") != "openmp":
        return
    ld = os.environ.get("LD_LIBRARY_PATH", "")
    if _OPENMP_BLAS_DIR in ld.split(":"):
        return
    if not os.path.isdir(_OPENMP_BLAS_DIR):
        print("warning: libopenblas0-openmp not installed; using the system BLAS "
              "(apt-get install -y libopenblas0-openmp for representative numbers)", file=sys.stderr)
        return
    os.environ["LD_LIBRARY_PATH"] = _OPENMP_BLAS_DIR + (":" + ld if ld else "")
    os.execv(sys.executable, [sys.executable] + sys.argv)


def _loaded_blas():
    """Directory of the OpenBLAS actually mapped into this process (call after a matmul)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "libopenblas" in line or "libblas" in line:
                    return os.path.basename(os.path.dirname(line.split()[-1]))
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    _prefer_openmp_openblas()
# ---------------------------------------------------------------------------

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
