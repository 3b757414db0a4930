// The Gantt of an execution: one bar per task run, placed on the execution's time span.
import type { Execution, TaskRun } from "../api/client";

export interface Bar {
  taskRun: TaskRun;
  depth: number;
  // Percent of the span, so bars keep their places while the span grows (no layout jump).
  left: number;
  width: number;
  seconds: number | null;
}

function ms(date: string | null | undefined): number | null {
  if (!date) return null;
  const t = Date.parse(date);
  return Number.isNaN(t) ? null : t;
}

/** Task runs in tree order (parents before their children), each with its depth. */
export function orderedRuns(runs: TaskRun[]): { run: TaskRun; depth: number }[] {
  const byParent = new Map<string | null, TaskRun[]>();
  const ids = new Set(runs.map((r) => r.id));
  for (const run of runs) {
    const parent = run.parentTaskRunId && ids.has(run.parentTaskRunId) ? run.parentTaskRunId : null;
    const siblings = byParent.get(parent) ?? [];
    siblings.push(run);
    byParent.set(parent, siblings);
  }
  const out: { run: TaskRun; depth: number }[] = [];
  const walk = (parent: string | null, depth: number): void => {
    for (const run of byParent.get(parent) ?? []) {
      out.push({ run, depth });
      walk(run.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function ganttBars(execution: Execution, now: number): Bar[] {
  const start = ms(execution.state.startDate) ?? now;
  const end = ms(execution.state.endDate) ?? now;
  const span = Math.max(end - start, 1);
  return orderedRuns(execution.taskRunList).map(({ run, depth }) => {
    const runStart = ms(run.state.startDate) ?? ms(run.state.histories[0]?.date) ?? start;
    const runEnd = ms(run.state.endDate) ?? (execution.state.endDate ? end : now);
    const left = Math.min(100, Math.max(0, ((runStart - start) / span) * 100));
    const width = Math.max(0.5, Math.min(100 - left, ((runEnd - runStart) / span) * 100));
    const seconds = run.state.duration ?? (runEnd - runStart) / 1000;
    return { taskRun: run, depth, left, width, seconds };
  });
}
