/**
 * The errors of hierarchical delegation (`teams:` in the swarm file).
 *
 * Kept in their own file (like `mcp.ts`): `index.ts` is what they extend.
 */
import { PermanentError } from "./index.js";

/**
 * An agent delegated to a team it does not lead. Permanent: the team's
 * structure comes from the swarm file, so a retry would be refused the same
 * way; a handler that lets it escape has its task dead-lettered with this
 * reason at once.
 */
export class NotTeamLeadError extends PermanentError {
  override readonly code: string = "E_NOT_TEAM_LEAD";

  constructor(
    readonly agent: string,
    readonly team: string,
    readonly lead: string,
    /** The teams `agent` does lead, for the message. */
    readonly leads: readonly string[] = [],
  ) {
    const own =
      leads.length === 0 ? "it leads no team" : `it leads ${leads.map((t) => `"${t}"`).join(", ")}`;
    super(
      `agent "${agent}" cannot delegate to team "${team}": its lead is "${lead}" and ${own}; submit to the role's queue instead (ctx.submit / ctx.call without team), ask "${lead}" to delegate, or make "${agent}" the team's lead under teams.${team}.lead`,
    );
  }
}
