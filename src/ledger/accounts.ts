/**
 * Accounts: `agent:<id>` (an agent's credits), `escrow:<task>` (budget held
 * for a delegated task), `treasury` (the swarm's own funds), `fees` (what
 * metered operations cost), and `world`, the one account that may go below
 * zero: minting moves credits from `world`, so `-balance(world)` is what was
 * ever minted and every other account sums to exactly that.
 */
import { UnknownAccountError } from "./errors.js";

export const WORLD = "world";
export const TREASURY = "treasury";
export const FEES = "fees";
export const agentAccount = (agent: string) => `agent:${agent}`;
/** The agent whose account `account` is, or undefined for another kind of account. */
export const accountAgent = (account: string): string | undefined =>
  account.startsWith("agent:") ? account.slice("agent:".length) : undefined;
export const escrowAccount = (task: string) => `escrow:${task}`;

const ACCOUNT = /^(?:(?:agent|escrow):[A-Za-z0-9_:.-]{1,200}|treasury|fees|world)$/;

/**
 * Throws `UnknownAccountError` unless `account` is a well-formed account id:
 * `agent:<id>`, `escrow:<task>`, `treasury`, `fees` or `world`.
 */
export function assertAccount(account: string): void {
  if (typeof account !== "string" || !ACCOUNT.test(account))
    throw new UnknownAccountError(String(account));
}
