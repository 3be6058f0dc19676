// The accuracy-vs-K picture of a few-shot sweep (GPT-3 Fig. 1.2's shape): for each task, its first metric against
// the number of examples in context, one line per model. K is drawn on a log-like axis (0 and 'max' included: 0 sits
// at the left, 'max' at the mean number of examples it packed).

import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { renderLinePlot } from '../report/line-plot.js';
import type { TaskResult } from './evaluator.js';

export interface SweepSeries {
  model: string;
  entries: { key: string; r: TaskResult }[];
}

/** x position of K: log2(1 + K), so 0, 1, 4, 16, 64 spread evenly enough. */
const xOf = (k: number) => Math.log2(1 + k);

/** The metric a task's plot shows: its first non-stderr result key. */
export function headlineMetric(r: TaskResult): string | undefined {
  return Object.keys(r.metrics).find((k) => !k.includes('_stderr,'));
}

/** Mean over seeds of each (model, task, K) headline metric, as plot points. */
export function sweepPoints(series: SweepSeries[]): Map<string, { metric: string; lines: { name: string; points: { k: number; label: string; y: number }[] }[] }> {
  const byTask = new Map<string, { metric: string; lines: { name: string; points: { k: number; label: string; y: number }[] }[] }>();
  for (const s of series) {
    const groups = new Map<string, TaskResult[]>();
    for (const { r } of s.entries) {
      const key = `${r.task}\u0000${r.numFewshot}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(r);
    }
    const perTask = new Map<string, { k: number; label: string; y: number }[]>();
    let metricOf = new Map<string, string>();
    for (const rs of groups.values()) {
      const r0 = rs[0]!;
      const metric = metricOf.get(r0.task) ?? headlineMetric(r0);
      if (!metric) continue;
      metricOf = metricOf.set(r0.task, metric);
      const ys = rs.map((r) => r.metrics[metric]).filter((v): v is number => typeof v === 'number');
      if (ys.length === 0) continue;
      const k = r0.numFewshot === 'max' ? rs.reduce((a, r) => a + r.meanShots, 0) / rs.length : r0.numFewshot;
      if (!perTask.has(r0.task)) perTask.set(r0.task, []);
      perTask.get(r0.task)!.push({ k, label: r0.numFewshot === 'max' ? `max` : String(r0.numFewshot), y: ys.reduce((a, b) => a + b, 0) / ys.length });
    }
    for (const [task, points] of perTask) {
      points.sort((a, b) => a.k - b.k);
      if (!byTask.has(task)) byTask.set(task, { metric: metricOf.get(task)!, lines: [] });
      byTask.get(task)!.lines.push({ name: s.model, points });
    }
  }
  return byTask;
}

/** Write DIR/plot_<task>.png for every task of the sweep; returns the paths. */
export function writeSweepPlots(dir: string, series: SweepSeries[]): string[] {
  const written: string[] = [];
  for (const [task, { metric, lines }] of sweepPoints(series)) {
    const ticks = new Map<number, string>();
    for (const l of lines) for (const p of l.points) ticks.set(Number(xOf(p.k).toFixed(6)), p.label === 'max' ? `max(${p.k.toFixed(0)})` : p.label);
    const png = renderLinePlot({
      title: `${task}: ${metric.split(',')[0]} vs examples in context`,
      xLabel: 'number of examples in context (K)',
      yLabel: metric.split(',')[0]!,
      series: lines.map((l) => ({ name: l.name, points: l.points.map((p) => ({ x: xOf(p.k), y: p.y })) })),
      xTicks: [...ticks].sort((a, b) => a[0] - b[0]).map(([value, label]) => ({ value, label })),
    });
    const path = join(dir, `plot_${task}.png`);
    writeFileAtomicSync(path, png);
    written.push(path);
  }
  return written;
}
