/**
 * Whether the NATS server a transport reached can fsync every JetStream
 * write before it acknowledges it, as `broker.syncEveryWrite` asks.
 *
 * By default nats-server writes a stored message to the operating system and
 * acknowledges it, and fsyncs its files every two minutes (`sync_interval`):
 * an acknowledged enqueue survives a crash of the server process, but not a
 * power loss or a kernel crash of a single-replica server. nats-server 2.10
 * added `jetstream { sync_interval: always }`; older servers cannot be made
 * to fsync each write at all. A client connection sees the server's version
 * (in its INFO), not its JetStream settings (those show only on the
 * monitoring port's `/varz` and `/jsz`, and to the system account), so this
 * check can only refuse what a version rules out.
 *
 * The same goes for replicated queues (`broker.replicas` > 1): a version
 * known to lose their messages under a partition is reported too.
 */
import { TransportError } from "../../errors/index.js";

/**
 * Replicated streams on a server older than 2.10 lose and strand
 * acknowledged messages when a stream's leader is cut off (chaos
 * `nats-r3-partition` on 2.9.10: CHAOS.md, Findings 16 and 19); 2.10.27
 * passed the same runs. Reported (not thrown), like `SyncNotStrictError`.
 */
export class ReplicationUnsafeError extends TransportError {
  override readonly code: string = "E_REPLICATION_UNSAFE";
}

/** What is wrong with replicated queues on the server at `version`; undefined when nothing known. */
export function replicationProblem(version: string | undefined): string | undefined {
  if (!olderThan(version, SAFE_REPLICATION_SINCE)) return undefined;
  return `broker.replicas > 1 on nats-server ${version}: in conclave's partition tests this server lost acknowledged messages of replicated streams and left others stored that its consumer never delivered again (docs/CHAOS.md, Findings 16 and 19); run nats-server 2.10 or later on every server of the cluster`;
}

/** The first nats-server release with `jetstream { sync_interval: always }`. */
export const SYNC_ALWAYS_SINCE = [2, 10, 0] as const;

/** The first nats-server release whose replicated streams passed the partition tests. */
const SAFE_REPLICATION_SINCE = [2, 10, 0] as const;

/** Whether `version` is readable and older than `[major, minor]`. */
export function olderThan(
  version: string | undefined,
  [wantMajor, wantMinor]: readonly [number, number, number],
): boolean {
  const parsed = parseServerVersion(version);
  if (parsed === undefined) return false;
  const [major, minor] = parsed;
  return major < wantMajor || (major === wantMajor && minor < wantMinor);
}

/**
 * The server cannot honour `broker.syncEveryWrite`: acknowledged enqueues may
 * be lost on a power loss. Reported (not thrown): the transport works, with
 * the server's weaker promise.
 */
export class SyncNotStrictError extends TransportError {
  override readonly code: string = "E_SYNC_NOT_STRICT";
}

/** `[major, minor, patch]` of a version like `2.9.10` or `v2.12.1-beta`; undefined when unreadable. */
export function parseServerVersion(
  version: string | undefined,
): [number, number, number] | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? "");
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * What is wrong when a swarm asked for an fsync on every write and the server
 * at `version` cannot do it; undefined when it can, or may (2.10+, where only
 * the server's own configuration says).
 */
export function syncProblem(version: string | undefined, replicas: number): string | undefined {
  if (!olderThan(version, SYNC_ALWAYS_SINCE)) return undefined;
  const copies =
    replicas >= 3
      ? `with replicas: ${replicas} an enqueue is in the memory of a majority of servers, so only a power loss of that majority at once loses it`
      : "or set broker.replicas: 3 on a JetStream cluster so that a power loss of one server loses nothing";
  return `broker.syncEveryWrite asks the broker to fsync every write, but nats-server ${version} has no jetstream sync_interval setting (it fsyncs every two minutes), so an acknowledged enqueue can be lost on a power loss; upgrade to nats-server 2.10 or later and set jetstream { sync_interval: always } in nats-server.conf, ${copies}`;
}
