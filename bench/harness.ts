import { cpus, totalmem } from "node:os";

/** One benchmark figure, compared with a baseline measured in the same run. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** What the value is compared against, e.g. "EventEmitter". */
  readonly baseline: string | null;
  readonly baselineValue: number | null;
  /** value / baselineValue (for a rate: above 1 is faster than the baseline). */
  readonly ratio: number | null;
  /** The goal the issue sets, as text, and whether this run met it. */
  readonly goal?: string;
  readonly met?: boolean;
  readonly machine: string;
  readonly notes?: string;
}

export type Bench = () => Promise<Omit<BenchResult, "machine" | "ratio">>;

export function machine(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? "unknown cpu";
  const gib = Math.round(totalmem() / 2 ** 30);
  return `${model} × ${cpu.length} cores, ${gib} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}

/** Runs `fn` and returns elapsed milliseconds. */
export async function timed(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Best of `runs` rates (ops/s) for `ops` operations per run: the least disturbed run. */
export async function bestRate(
  runs: number,
  ops: number,
  fn: () => Promise<void> | void,
): Promise<number> {
  let best = 0;
  for (let i = 0; i < runs; i++) {
    const ms = await timed(fn);
    best = Math.max(best, (ops / ms) * 1000);
  }
  return Math.round(best);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Rounded to 3 decimals, for printing. */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
