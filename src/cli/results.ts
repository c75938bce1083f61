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
    const dead = new Map((await store.deadLetters()).map((d) => [d.id, d]));
    for (const submitted of await store.effects(ROOT_SUBMITTED)) {
      if (options.root !== undefined && submitted.key !== options.root) continue;
      const what = (submitted.data ?? {}) as { role?: string; task?: string };
      const base = {
        root: submitted.key,
        ...(what.role === undefined ? {} : { role: what.role }),
        ...(what.task === undefined ? {} : { task: what.task }),
      };
      const done = finished.get(submitted.key);
      const died = dead.get(submitted.key);
      if (done !== undefined) {
        lines.push({
          ...base,
          status: "finished",
          by: done.agent,
          at: done.at,
          ...(done.data === undefined ? {} : { result: done.data }),
        });
      } else if (died !== undefined) {
        lines.push({ ...base, status: "dead_lettered", reason: died.reason, at: died.at });
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
