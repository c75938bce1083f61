import { constants, existsSync } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { ConfigError } from "../errors/index.js";
import {
  agentKeyPath,
  fingerprint,
  generateAgentKeyPair,
  saveAgentKey,
} from "../identity/index.js";
import { encodePublicKey } from "../identity/keys.js";
import { writingTo } from "./output-path.js";

export interface GenerateKeysOptions {
  readonly dir: string;
  readonly force: boolean;
  readonly json: boolean;
}

/** `conclave keys gen`: one key file per agent, mode 0600; prints public keys and fingerprints. */
export async function generateKeys(
  ids: readonly string[],
  options: GenerateKeysOptions,
): Promise<number> {
  // Every path is checked before any is written, so a refusal leaves no key unprinted.
  const twice = ids.filter((agent, i) => ids.indexOf(agent) !== i);
  if (twice.length > 0) {
    throw new ConfigError(`${[...new Set(twice)].join(", ")} named twice; name each agent once`);
  }
  if (!options.force) {
    const taken = ids.map((agent) => agentKeyPath(options.dir, agent)).filter((p) => existsSync(p));
    if (taken.length > 0) {
      throw new ConfigError(
        `${taken.join(", ")} already ${taken.length === 1 ? "exists" : "exist"}; nothing was written. Replacing a key replaces that agent's identity: pass --force to do so, or leave ${taken.length === 1 ? "its id" : "those ids"} out`,
      );
    }
  }
  // The folder is the user's choice: one it cannot write is a usage error (exit 2), before any key.
  await writingTo({ what: "the key files", path: options.dir, option: "--dir" }, async () => {
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    await access(options.dir, constants.W_OK);
  });
  const out: { agent: string; path: string; publicKey: string; fingerprint: string }[] = [];
  for (const agent of ids) {
    const pair = generateAgentKeyPair();
    await saveAgentKey(options.dir, agent, pair, { overwrite: options.force });
    out.push({
      agent,
      path: agentKeyPath(options.dir, agent),
      publicKey: encodePublicKey(pair.publicKey),
      fingerprint: fingerprint(pair.publicKey),
    });
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    for (const k of out) {
      process.stdout.write(`${k.agent}  ${k.publicKey}  ${k.fingerprint}  ${k.path}\n`);
    }
  }
  return 0;
}
