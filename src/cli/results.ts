/**
 * `conclave results`: what the swarm's root tasks were finished with
 * (`ctx.finish(data)`), read from the store: for each root submitted, its
 * role and task type, and its result, or that it was dead-lettered, or that
 * it is still pending.
 */
import { ROOT_COMPLETED, ROOT_SUBMITTED } from "../runtime/context.js";
import { openStoreTarget, type StoreTarget } from "./store-target.js";

/** One root task of the run. */
export interface ResultLine {
  readonly root: string;
  readonly role?: string;
  readonly task?: string;
  readonly status: "finished" | "dead_lettered" | "pending";
  /** What `ctx.finish(data)` recorded, when it recorded something. */
  readonly result?: unknown;
  /** Who finished it, and when (ms since the epoch). */
  readonly by?: string;
  readonly at?: number;
  /** Why it was dead-lettered. */
  readonly reason?: string;
}

/** Prints every root's result (or one, with `root`); exit 1 when `root` is unknown. */
export async function showResults(
  target: StoreTarget,
  options: { readonly root?: string; readonly json: boolean },
): Promise<number> {
  const { store } = await openStoreTarget(target, { create: false });
  const lines: ResultLine[] = [];
  try {
    const finished = new Map((await store.effects(ROOT_COMPLETED)).map((e) => [e.key, e]));
    // Every dead letter, not the store's default page (the oldest 10,000): a
    // root that died later would be reported pending.
    const deadLetters = await store.deadLetters({ limit: Infinity });
    const dead = new Map(deadLetters.map((d) => [d.id, d]));
    // A root not finished whose handler is done dies with the first task it
    // caused that died, as the run's summary counts it (runtime/workload.ts).
    const deadUnder = new Map<string, (typeof deadLetters)[number]>();
    for (const d of deadLetters) {
      if (d.corr !== undefined && !deadUnder.has(d.corr)) deadUnder.set(d.corr, d);
    }
    for (const submitted of await store.effects(ROOT_SUBMITTED)) {
      if (options.root !== undefined && submitted.key !== options.root) continue;
      const what = (submitted.data ?? {}) as { role?: string; task?: string };
      const base = {
        root: submitted.key,
        ...(what.role === undefined ? {} : { role: what.role }),
        ...(what.task === undefined ? {} : { task: what.task }),
      };
      const done = finished.get(submitted.key);
      // A dead descendant ends the root only once the root's own handler is
      // done: until then it may be waiting on that child and try another way.
      const died =
        dead.get(submitted.key) ??
        (done === undefined && (await store.isCompleted(submitted.key))
          ? deadUnder.get(submitted.key)
          : undefined);
      if (done !== undefined) {
        lines.push({
          ...base,
          status: "finished",
          by: done.agent,
          at: done.at,
          ...(done.data === undefined ? {} : { result: done.data }),
        });
      } else if (died !== undefined) {
        const reason =
          died.id === submitted.key
            ? died.reason
            : `task ${died.id} it caused was dead-lettered: ${died.reason}`;
        lines.push({ ...base, status: "dead_lettered", reason, at: died.at });
      } else {
        lines.push({ ...base, status: "pending" });
      }
    }
  } finally {
    await store.close();
  }
  if (options.root !== undefined && lines.length === 0) {
    process.stderr.write(`conclave: no root task ${options.root} in this store\n`);
    return 1;
  }
  for (const line of lines) {
    if (options.json) {
      process.stdout.write(`${JSON.stringify(line)}\n`);
      continue;
    }
    const head = `${line.root}  ${line.role ?? "?"}.${line.task ?? "?"}  ${line.status}`;
    const tail =
      line.status === "finished"
        ? line.result === undefined
          ? ""
          : `  ${JSON.stringify(line.result)}`
        : line.status === "dead_lettered"
          ? `  ${line.reason}`
          : "";
    process.stdout.write(`${head}${tail}\n`);
  }
  return 0;
}
