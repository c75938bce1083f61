/**
 * `conclave approve <proposal> [--reject] --key FILE --swarm FILE`: a
 * person's vote on a privileged action that waits for them. The vote is
 * signed here with their key file (`conclave keys gen alice`) and published
 * on the swarm's broker, where the proposal's coordinator counts it; the
 * proposal is read from the shared store, where the coordinator keeps it
 * while it waits.
 */
import { existsSync } from "node:fs";
import { basename, dirname } from "node:path";
import { parseRuntimeProposal } from "../consensus/rule.js";
import { createVote, VOTE_REASON_MAX_LENGTH } from "../consensus/vote.js";
import { ConfigError, VoteRefusedError } from "../errors/index.js";
import { loadAgentKey } from "../identity/key-file.js";
import { awaitingKey, checkHumanVote } from "../runtime/consensus/human-votes.js";
import { openTransport } from "../runtime/from-config.js";
import { consensusSubjects } from "../runtime/subjects.js";
import { openStore } from "../store/open-store.js";
import { encodeEnvelope } from "../wire/codec.js";
import { loadBrokerSwarm } from "./broker-swarm.js";

export interface ApproveOptions {
  /** The person's key file: `<dir>/<name>.key`; the name is who votes. */
  readonly key: string;
  readonly reject: boolean;
  readonly reason?: string;
  readonly transport?: string;
  readonly store?: string;
  readonly json: boolean;
}

/**
 * Refuses a `--reason` the coordinator would not count, before anything is
 * signed or read.
 * @throws VoteRefusedError saying how long a reason may be.
 */
function checkReason(reason: string | undefined): void {
  if (reason !== undefined && reason.length > VOTE_REASON_MAX_LENGTH) {
    throw new VoteRefusedError(
      `--reason is ${reason.length} characters; a vote's reason may be at most ${VOTE_REASON_MAX_LENGTH}: shorten it`,
    );
  }
}

/**
 * Who votes: the name of the key file `conclave keys gen <name>` wrote,
 * `<dir>/<name>.key`.
 * @throws ConfigError (exit 2) when the file is missing or named otherwise,
 *   saying how to make one.
 */
function keyFileOwner(file: string): string {
  const name = basename(file);
  if (!name.endsWith(".key") || name === ".key") {
    const stem = name.replace(/(.)\.[^.]*$/, "$1");
    throw new ConfigError(
      `--key ${file}: the key file's name says who votes, <name>.key as conclave keys gen <name> writes it; pass that file, or rename this one ${stem}.key`,
    );
  }
  const human = name.slice(0, -".key".length);
  if (!existsSync(file)) {
    throw new ConfigError(
      `--key ${file}: there is no such key file; conclave keys gen ${human} --dir ${dirname(file)} writes one, whose public key goes in the swarm file as humans.${human}.publicKey`,
    );
  }
  return human;
}

/** Casts the vote; exit code 0, or a thrown typed error (exit 1 or 2). */
export async function approveProposal(
  file: string,
  proposalId: string,
  options: ApproveOptions,
): Promise<number> {
  checkReason(options.reason);
  const config = await loadBrokerSwarm(
    file,
    options,
    "vote from its dashboard (conclave up --dashboard)",
  );
  const human = keyFileOwner(options.key);
  const keys = await loadAgentKey(dirname(options.key), human);
  const store = await openStore(config.store, { create: false });
  let stored: string | undefined;
  try {
    stored = await store.getMeta(awaitingKey(proposalId));
  } finally {
    await store.close();
  }
  if (stored === undefined || stored === "") {
    throw new VoteRefusedError(
      `no proposal ${proposalId} waits for people's votes in ${config.swarm}'s store (decided, or never proposed); check the id on the dashboard`,
    );
  }
  const proposal = parseRuntimeProposal(JSON.parse(stored));
  if (typeof proposal === "string")
    throw new VoteRefusedError(`the stored proposal is unreadable: ${proposal}`);
  const choice = options.reject ? "reject" : "approve";
  const vote = createVote({
    proposal,
    from: human,
    choice,
    ...(options.reason ? { reason: options.reason } : {}),
    privateKey: keys.privateKey,
  });
  checkHumanVote(proposal, vote, Date.now());
  const transport = await openTransport(config);
  try {
    transport.publish(consensusSubjects.vote(config.swarm, proposal.id), encodeEnvelope(vote));
  } finally {
    // Drain: what was published reaches the broker before the connection closes.
    await transport.drain();
  }
  const line = { proposal: proposal.id, action: proposal.action, voter: human, choice };
  process.stdout.write(
    options.json
      ? `${JSON.stringify(line)}\n`
      : `${human} voted ${choice} on proposal ${proposal.id} (${proposal.action}); the outcome is sealed in the audit log when the round closes\n`,
  );
  return 0;
}
