import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Makes sure a state file (a store, a queue journal) is private before a
 * database library opens it: its folder is created with mode 0700 when
 * missing, and the file itself with mode 0600 when missing, so the
 * library's own files beside it (`-wal`, `-shm`, which SQLite creates with
 * the main file's mode) are private too. Existing folders and files are
 * left as they are: their modes are their owner's choice.
 */
export function preparePrivateFile(path: string): void {
  if (path === ":memory:" || path === "") return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // "a": create if missing, never truncate; the mode applies only on creation.
    closeSync(openSync(path, "a", 0o600));
  } catch {
    // Unwritable or special: the database library reports it with its own words.
  }
}
