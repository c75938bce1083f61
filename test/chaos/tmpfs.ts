/**
 * Size-limited folders for the full-disk tests: a tmpfs mounted on a
 * temporary folder (root only; `cannotMount` says why not otherwise).
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function mount(dir: string, size: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
}
export function remount(dir: string, size: string): void {
  execFileSync("mount", ["-o", `remount,size=${size}`, dir], { stdio: "pipe" });
}
export function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "pipe" });
  } catch {
    // Not mounted, or busy (a process still holds a file there): detach it.
    try {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
    } catch {
      // not mounted
    }
  }
}

/** Why the tests cannot run here, or undefined. */
export function cannotMount(): string | undefined {
  if (process.getuid?.() !== 0)
    return "a size-limited folder needs a tmpfs mount, which needs root";
  const probe = mkdtempSync(join(tmpdir(), "conclave-tmpfs-probe-"));
  try {
    mount(probe, "64k");
    unmount(probe);
    return undefined;
  } catch (error) {
    return `mounting a tmpfs failed (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** Writes zeros into `path` until the disk is full (ENOSPC). */
export function fillDisk(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
}
