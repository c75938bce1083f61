import { ManualClock } from "../../src/core/clock.js";
import { seededRandom } from "../../src/core/random.js";
import { createEnvelope, type Envelope } from "../../src/wire/envelope.js";

/** 2024-11-21T14:40:00Z, a fixed instant for deterministic envelopes. */
export const FIXED_TS = 1_732_200_000_000;

/** A valid envelope with every optional field set, so tests can tamper with each one. */
export function fullEnvelope(seed = 1): Envelope<{ task: string; files: string[]; n: number }> {
  return createEnvelope(
    {
      type: "task.code_review",
      from: "lead-1",
      to: "reviewer-2",
      deadline: FIXED_TS + 60_000,
      corr: "req-7f3a9c",
      cause: "01JD0000000000000000000000",
      conv: "pr-42",
      seq: 3,
      attempt: 1,
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
      body: { task: "review", files: ["a.ts", "ü.ts"], n: 0.1 },
    },
    { clock: new ManualClock(FIXED_TS), random: seededRandom(seed) },
  );
}

/** The smallest valid envelope as JSON text. */
export const MINIMAL_JSON =
  '{"id":"01JD0000000000000000000000","type":"event.ping","from":"a","ts":0,"body":null}';
