// Graph walks over traced tensors: topological order of the nodes that produce a set of outputs.

import type { Node, Tensor } from './tensor.js';

/** Nodes needed to compute `outputs`, inputs before users (iterative DFS, so deep graphs don't overflow the stack). */
export function topoSort(outputs: readonly Tensor[]): Node[] {
  const order: Node[] = [];
  const state = new Map<number, 1 | 2>(); // 1 = on stack, 2 = done
  const stack: { node: Node; next: number }[] = [];
  for (const out of outputs) {
    if (state.get(out.node.id) === 2) continue;
    stack.push({ node: out.node, next: 0 });
    state.set(out.node.id, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.node.inputs.length) {
        const child = top.node.inputs[top.next++]!.node;
        const s = state.get(child.id);
        if (s === undefined) {
          state.set(child.id, 1);
          stack.push({ node: child, next: 0 });
        } else if (s === 1) {
          throw new Error(`graph has a cycle at ${child.op.name}#${child.id}`);
        }
      } else {
        state.set(top.node.id, 2);
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return order;
}
