import {
  agentKeyPath,
  fingerprint,
  generateAgentKeyPair,
  saveAgentKey,
} from "../identity/index.js";
import { encodePublicKey } from "../identity/keys.js";

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
