// The `tasks:` section of a swarm file: how the tasks of each type are
// allocated, queued to their role or auctioned among its agents
// (contract-net), with the auction's rule and its settings.
import { z } from "zod";
import { expecting, integer, isRecord, pattern, stripUndefined, TASK_TYPE } from "./fields.js";
import { didYouMean, quoteList } from "./messages.js";

/** One criterion of a multi-criteria auction. */
export interface AuctionCriterionConfig {
  /** The field of each bid's `criteria` it reads, e.g. `cost`. */
  readonly name: string;
  /** Relative weight; weights are normalised to sum 1. */
  readonly weight: number;
  /** `min`: lower is better (cost, latency); `max`: higher is better (quality). */
  readonly direction: "min" | "max";
}

/** Auction rule names. */
export type AuctionRuleName = "multi-criteria" | "first-price" | "vickrey" | "english" | "dutch";

/** How tasks of one type are allocated by auction (contract-net). */
export interface AuctionConfig {
  readonly rule: AuctionRuleName;
  /** `procurement`: bidders ask to be paid, lowest effective ask wins; `sale`: highest bid wins and pays. */
  readonly side: "procurement" | "sale";
  /** Procurement: the most the auctioneer pays; sale: the least it accepts. In credits. */
  readonly reserve?: number;
  /** How long each round takes bids, in ms. */
  readonly roundMs: number;
  /** Rounds of an English auction at most. */
  readonly maxRounds: number;
  /** English: the least a new bid must improve on the standing one. */
  readonly minIncrement?: number;
  /** Dutch: where the clock starts, how much it moves per step, and how often. */
  readonly startPrice?: number;
  readonly step?: number;
  readonly stepMs?: number;
  /** Multi-criteria: what bids are scored on. */
  readonly criteria: readonly AuctionCriterionConfig[];
  /** What happens to a task nobody won: queued to its role as usual, or dead-lettered. */
  readonly onUnsold: "queue" | "dead-letter";
}

/** How the tasks of one type are allocated. */
export interface TaskTypeConfig {
  /** `queue`: the first free agent of the role takes it; `auction`: the role's agents bid for it. */
  readonly allocation: "queue" | "auction";
  /** The role whose agents bid; the role listing the task when only one does. */
  readonly role: string;
  /** Set when `allocation` is `auction`. */
  readonly auction?: AuctionConfig;
}

const credits = integer(0, Number.MAX_SAFE_INTEGER);

const auctionSchema = z
  .strictObject({
    rule: z
      .enum(["multi-criteria", "first-price", "vickrey", "english", "dutch"])
      .default("vickrey")
      .describe(
        "multi-criteria: weighted, normalised criteria; first-price: sealed, best bid pays/is paid its own; vickrey: sealed, second price; english: open rounds with a minimum increment; dutch: a moving price clock, first taker wins.",
      ),
    side: z
      .enum(["procurement", "sale"])
      .default("procurement")
      .describe(
        "procurement (tasks): bidders ask to be paid, the lowest effective ask wins; sale: the highest effective bid wins and pays.",
      ),
    reserve: credits
      .optional()
      .describe("Procurement: the most the auctioneer pays; sale: the least it accepts. Credits."),
    roundMs: integer(1, 3_600_000).default(200).describe("How long each round takes bids, in ms."),
    maxRounds: integer(1, 1000).default(5).describe("Rounds of an English auction at most."),
    minIncrement: integer(1, Number.MAX_SAFE_INTEGER)
      .optional()
      .describe("English: the least a new bid must improve on the standing one, in credits."),
    startPrice: credits.optional().describe("Dutch: the clock's first price, in credits."),
    step: integer(1, Number.MAX_SAFE_INTEGER)
      .optional()
      .describe("Dutch: how much the clock moves per step, in credits."),
    stepMs: integer(1, 3_600_000).optional().describe("Dutch: how often the clock moves, in ms."),
    criteria: z
      .array(
        z.strictObject({
          name: z.string().min(1).describe("The bid field it reads, e.g. cost."),
          weight: z
            .number({ error: expecting("a number > 0") })
            .positive({ error: expecting("a number > 0") })
            .describe("Relative weight; weights are normalised to sum 1."),
          direction: z
            .enum(["min", "max"])
            .describe("min: lower is better; max: higher is better."),
        }),
      )
      .default([])
      .describe("Multi-criteria: what bids are scored on."),
    onUnsold: z
      .enum(["queue", "dead-letter"])
      .default("queue")
      .describe(
        "A task nobody won: queued to its role as usual, or dead-lettered with the reason.",
      ),
  })
  .describe("Auction settings (contract-net): a call for proposals, signed bids, an award.");

const taskTypeSchema = z
  .strictObject({
    allocation: z
      .enum(["queue", "auction"])
      .default("queue")
      .describe(
        "queue: the first free agent of the role takes it; auction: the role's agents bid.",
      ),
    role: z
      .string()
      .min(1)
      .optional()
      .describe("The role whose agents bid. Default: the one role listing the task."),
    auction: auctionSchema.optional(),
  })
  .describe("How tasks of this type are allocated.");

/** The section as written. */
export const tasksSchema = z
  .record(
    pattern(TASK_TYPE, "a task type of lowercase letters, digits, '_' or '-', dot-separated"),
    taskTypeSchema,
  )
  .default({})
  .describe(
    "Allocation by task type: types not listed here are queued to their role; allocation: auction runs a contract-net auction among the role's agents.",
  );

/** The roles whose `tasks` list `task`. */
function rolesListing(task: string, roles: Record<string, unknown>): string[] {
  return Object.entries(roles)
    .filter(([, r]) => isRecord(r) && Array.isArray(r["tasks"]) && r["tasks"].includes(task))
    .map(([name]) => name);
}

/** Refuses an allocation nobody could run and an auction missing what its rule needs. */
export function checkTaskType(
  task: string,
  settings: Record<string, unknown>,
  roles: Record<string, unknown>,
  ctx: z.RefinementCtx,
): void {
  const at = (...rest: (string | number)[]) => ["tasks", task, ...rest];
  const listing = rolesListing(task, roles);
  const role = settings["role"];
  if (typeof role === "string") {
    if (!(role in roles)) {
      ctx.addIssue({
        code: "custom",
        path: at("role"),
        message: `role ${JSON.stringify(role)} is not defined under roles${didYouMean(role, Object.keys(roles))}; defined roles: ${quoteList(Object.keys(roles))}`,
      });
    } else if (!listing.includes(role)) {
      ctx.addIssue({
        code: "custom",
        path: at("role"),
        message: `role ${JSON.stringify(role)} does not list "${task}" under its tasks, so its agents could never run it; add the task to the role`,
      });
    }
  } else if (listing.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: at(),
      message:
        listing.length === 0
          ? `no role lists "${task}" under its tasks, so nobody could run it; add it to a role's tasks`
          : `several roles list "${task}" (${quoteList(listing)}); say which one allocates it with role:`,
    });
  }
  const auction = settings["auction"];
  if (settings["allocation"] === "auction" && !isRecord(auction)) {
    ctx.addIssue({
      code: "custom",
      path: at("auction"),
      message: `allocation: auction needs an auction: block (at least { rule: vickrey }); or use allocation: queue`,
    });
  }
  if (!isRecord(auction)) return;
  if (settings["allocation"] !== "auction") {
    ctx.addIssue({
      code: "custom",
      path: at("allocation"),
      message: `an auction: block is set but allocation is not auction; set allocation: auction or remove the block`,
    });
  }
  const rule = auction["rule"];
  const need = (key: string, why: string) => {
    if (auction[key] === undefined) {
      ctx.addIssue({ code: "custom", path: at("auction", key), message: `${why}; add ${key}` });
    }
  };
  if (rule === "multi-criteria") {
    const criteria = auction["criteria"];
    if (!Array.isArray(criteria) || criteria.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: at("auction", "criteria"),
        message:
          "multi-criteria needs at least one criterion, e.g. [{ name: cost, weight: 1, direction: min }]",
      });
    }
  }
  if (rule === "english") need("minIncrement", "an english auction needs the minimum raise");
  if (rule === "dutch") {
    need("startPrice", "a dutch auction needs the clock's first price");
    need("step", "a dutch auction needs how much the clock moves per step");
    need("stepMs", "a dutch auction needs how often the clock moves");
  }
}

/** The section with each task type's role resolved and unset auction fields dropped. */
export function buildTaskTypes(
  tasks: z.output<typeof tasksSchema>,
  roles: Record<string, unknown>,
): Record<string, TaskTypeConfig> {
  return Object.fromEntries(
    Object.entries(tasks).map(([task, t]): [string, TaskTypeConfig] => [
      task,
      {
        allocation: t.allocation,
        // The cross-field check guarantees exactly one role lists the task when none is named.
        role: t.role ?? rolesListing(task, roles)[0] ?? "",
        ...(t.auction === undefined
          ? {}
          : { auction: stripUndefined(t.auction) as unknown as AuctionConfig }),
      },
    ]),
  );
}
