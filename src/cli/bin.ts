#!/usr/bin/env node
import { flushTraces } from "../runtime/tracing.js";
import { main } from "./main.js";

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Spans a user's OpenTelemetry SDK still buffers go out before the process ends.
await flushTraces();
// Everything is closed by now; if a stray handle still holds the loop, do not hang the shell.
setTimeout(() => process.exit(code), 2000).unref();
