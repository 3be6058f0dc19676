// Batched matrix multiplication with numpy broadcasting of the batch dimensions, and its VJP.

import { isFloat } from '../dtype.js';
import { apply1, defineOp, fail, fmtShape, Tensor } from '../tensor.js';
import { broadcastShapes } from './broadcast.js';
import { reshape, swapAxes } from './shape.js';

export const matmulOp = defineOp<Record<string, never>>({
  name: 'matmul',
  infer: ([a, b]) => {
    if (a!.dtype !== b!.dtype) fail('matmul', `dtype mismatch: ${a!.dtype} vs ${b!.dtype}`);
    if (a!.rank < 2 || b!.rank < 2) {
      fail('matmul', `needs rank >= 2 operands, got ${fmtShape(a!.shape)} and ${fmtShape(b!.shape)} (unsqueeze vectors first)`);
    }
    const [m, k] = a!.shape.slice(-2) as [number, number];
    const [k2, n] = b!.shape.slice(-2) as [number, number];
    if (k !== k2) fail('matmul', `inner dimensions differ: ${fmtShape(a!.shape)} @ ${fmtShape(b!.shape)} (${k} vs ${k2})`);
    const batch = broadcastShapes('matmul', a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    return [{ shape: [...batch, m, n], dtype: a!.dtype }];
  },
  emit: (e, [a, b], [out]) => e.node('MatMul', [a!, b!], [out!]),
  vjp: ({ inputs: [a, b], grads: [g], needs }) => {
    // (..., M, K) @ (..., K, N) -> (..., M, N)
    const A = a!;
    const B = b!;
    const G = g!;
    let dA: Tensor | null = null;
    let dB: Tensor | null = null;
    if (needs[0]) dA = matmul(G, swapAxes(B, -1, -2)); // (..., M, N) @ (..., N, K) -> (..., M, K)
    if (needs[1]) {
      if (B.rank === 2 && A.rank > 2) {
        // Shared weight: fold the batch into M so dB is one GEMM: (K, B*M) @ (B*M, N) -> (K, N)
        const K = A.shape[A.rank - 1]!;
        const N = G.shape[G.rank - 1]!;
        dB = matmul(swapAxes(reshape(A, [-1, K]), 0, 1), reshape(G, [-1, N]));
      } else {
        dB = matmul(swapAxes(A, -1, -2), G); // (..., K, M) @ (..., M, N) -> (..., K, N)
      }
    }
    return [dA, dB];
  },
});

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!isFloat(a.dtype) && a.dtype !== 'int32' && a.dtype !== 'int64') fail('matmul', `unsupported dtype ${a.dtype}`);
  if (a.rank > 2 && b.rank === 2 && a.shape[a.rank - 1] === b.shape[0]) {
    // (..., M, K) @ (K, N): one 2-D GEMM over the folded batch, (B·M, K) @ (K, N), then unfold.
    const K = a.shape[a.rank - 1]!;
    const y = apply1(matmulOp, [reshape(a, [-1, K]), b], {});
    return reshape(y, [...a.shape.slice(0, -1), b.shape[1]!]);
  }
  return apply1(matmulOp, [a, b], {});
}

/**
 * a @ wᵀ for a matrix w (N, K): (..., K) → (..., N), e.g. a tied output head (logits = h @ wteᵀ).
 */
export const matmulNTOp = defineOp<Record<string, never>>({
  name: 'matmulNT',
  infer: ([a, w]) => {
    if (a!.dtype !== w!.dtype) fail('matmulNT', `dtype mismatch: ${a!.dtype} vs ${w!.dtype}`);
    if (w!.rank !== 2 || a!.rank !== 2) fail('matmulNT', `needs (M, K) and (N, K) matrices, got ${fmtShape(a!.shape)} and ${fmtShape(w!.shape)}`);
    if (a!.shape[1] !== w!.shape[1]) fail('matmulNT', `inner dimensions differ: ${fmtShape(a!.shape)} @ ${fmtShape(w!.shape)}ᵀ`);
    return [{ shape: [a!.shape[0]!, w!.shape[0]!], dtype: a!.dtype }];
  },
  emit: (e, [a, w], [out]) => e.node('MatMul', [a!, e.op('Transpose', [w!], { perm: { kind: 'ints', value: [1, 0] } })], [out!]),
  vjp: ({ inputs: [a, w], grads: [g], needs }) => [
    needs[0] ? matmul(g!, w!) : null, // (M, N) @ (N, K) -> (M, K)
    // (K, M) @ (M, N) -> (K, N), then -> (N, K): MLAS runs the wide-N product much faster than (N, M) @ (M, K)
    needs[1] ? swapAxes(matmul(swapAxes(a!, 0, 1), g!), 0, 1) : null,
  ],
});

export function matmulNT(a: Tensor, w: Tensor): Tensor {
  if (a.rank > 2) {
    const K = a.shape[a.rank - 1]!;
    const y = apply1(matmulNTOp, [reshape(a, [-1, K]), w], {});
    return reshape(y, [...a.shape.slice(0, -1), w.shape[0]!]);
  }
  return apply1(matmulNTOp, [a, w], {});
}
