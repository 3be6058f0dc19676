// Numpy-style broadcasting: the output shape of a binary op and the axes a gradient must be summed over.

import { fail, fmtShape } from '../tensor.js';

export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - rank + i;
      const v = k >= 0 ? s[k]! : 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) fail(op, `cannot broadcast shapes ${shapes.map(fmtShape).join(' and ')} (axis ${i}: ${d} vs ${v})`);
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Axes of `full` that were broadcast from `small` (to be summed), as axes of `full`. */
export function broadcastAxes(small: readonly number[], full: readonly number[]): number[] {
  const axes: number[] = [];
  const lead = full.length - small.length;
  for (let i = 0; i < full.length; i++) {
    if (i < lead) axes.push(i);
    else if (small[i - lead] === 1 && full[i] !== 1) axes.push(i);
  }
  return axes;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) fail(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}
