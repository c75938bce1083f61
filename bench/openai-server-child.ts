/**
 * The local OpenAI-compatible server of the tests, in a process of its own,
 * as a model server is in production: `llm.overhead` measures the agent
 * loop's process without the server's CPU competing for the same thread.
 * Prints the server's base URL on its first stdout line; answers every chat
 * call with "ok" after `ANSWER_MS` (argv[2], default 50) and usage 12/2.
 * Ends when its parent closes its stdin.
 */
import { answer, type ChatRequest, startOpenAiServer } from "../test/helpers/openai-server.js";

const delayMs = Number(process.argv[2] ?? 50);
const server = await startOpenAiServer({
  responder: () => answer("ok", { delayMs, usage: { prompt: 12, completion: 2 } }),
});
// The server records every request for tests' assertions; a benchmark must not grow it.
const kept = server.requests as ChatRequest[];
setInterval(() => {
  kept.length = 0;
}, 1000).unref();
process.stdout.write(`${server.url}\n`);
process.stdin.resume();
process.stdin.on("end", () => {
  void server.close().then(() => process.exit(0));
});
