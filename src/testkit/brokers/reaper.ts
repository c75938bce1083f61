import type { ChildProcess } from "node:child_process";

/** Each child still running, with how to kill it. */
const live = new Map<ChildProcess, (proc: ChildProcess) => void>();
let installed = false;

/**
 * Kills `proc` (with `kill`, by default SIGKILL) if the test process exits
 * while it still runs, so a test that ends without stopping its servers
 * never leaves them behind.
 */
export function killOnExit(
  proc: ChildProcess,
  kill: (proc: ChildProcess) => void = (p) => p.kill("SIGKILL"),
): void {
  live.set(proc, kill);
  proc.once("exit", () => live.delete(proc));
  if (!installed) {
    installed = true;
    process.once("exit", () => {
      for (const [p, killIt] of live) killIt(p);
    });
  }
}
