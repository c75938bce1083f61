/**
 * Where a command writes its output (`init`'s folder, `demo --data-dir`,
 * `broker-config --out`, `admit --out`): a file-system failure there is the
 * user's choice of place, so it becomes a `ConfigError` (exit 2) naming the
 * place and what to do, not an unexpected failure with a stack trace.
 */
import { ConfigError } from "../errors/index.js";

/** What is written, where, and the option (or argument) that names another place. */
export interface OutputPlace {
  /** What the command writes, e.g. `"the credential"`. */
  readonly what: string;
  /** The folder or file the user named. */
  readonly path: string;
  /** How to name another place, e.g. `"--out"`. */
  readonly option: string;
}

/**
 * Runs `write`; a file-system error it throws (one with an errno code such
 * as `EACCES`, `ENOTDIR`, `EEXIST`, `ENOSPC`) is rethrown as a
 * `ConfigError` "cannot write <what> to <path>: <code>; pick another folder
 * (<option>) or fix its permissions", with the error as its cause. Other
 * errors pass through unchanged.
 *
 * @example
 * ```ts
 * await writingTo({ what: "the credential", path: out, option: "--out" }, () =>
 *   writeFile(out, text, { mode: 0o600 }),
 * );
 * ```
 */
export async function writingTo<T>(place: OutputPlace, write: () => T | Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const code = fileSystemCode(error);
    if (code === undefined) throw error;
    throw new ConfigError(
      `cannot write ${place.what} to ${place.path}: ${code}; pick another folder (${place.option}) or fix its permissions`,
      [],
      { cause: error },
    );
  }
}

/** The errno code of a failed file-system call (it names a `syscall`), else undefined. */
function fileSystemCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall } = error as NodeJS.ErrnoException;
  return typeof code === "string" && typeof syscall === "string" ? code : undefined;
}
