"""BLAS selection shared by the PyTorch peers in bench/ (imported, never run on its own)."""

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


def prefer_openmp_openblas():
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


def loaded_blas():
    """Directory of the OpenBLAS actually mapped into this process (call after a matmul)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "libopenblas" in line or "libblas" in line:
                    return os.path.basename(os.path.dirname(line.split()[-1]))
    except OSError:
        pass
    return "unknown"
