/**
 * The `conclave` command line: the program and its exit codes. The commands
 * themselves are in commands-run.ts, commands-watch.ts and commands-admin.ts.
 */
import { Command, CommanderError, Option } from "commander";
import { ConclaveError, ConfigError } from "../errors/index.js";
import { EXIT } from "./cli-options.js";
import { adminCommands } from "./commands-admin.js";
import { gatewayCommand, runCommands } from "./commands-run.js";
import { watchCommands } from "./commands-watch.js";
import { logProcessWarnings } from "./warnings.js";

/** pino's levels and `silent`: an unknown one is a usage error before anything is created. */
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function program(): Command {
  const cli = new Command("conclave")
    .description("Swarms of agents that coordinate over an event bus.")
    .version("0.1.0")

    .addOption(
      new Option(
        "--log-level <level>",
        "log level on stderr (default: warn; error for the demo, whose dead letters are expected)",
      ).choices(LOG_LEVELS),
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  runCommands(cli);
  watchCommands(cli);
  gatewayCommand(cli);
  adminCommands(cli);
  return cli;
}

export async function main(argv: readonly string[]): Promise<number> {
  const cli = program();
  const restoreWarnings = logProcessWarnings(
    () => cli.opts<{ logLevel?: string }>().logLevel ?? "warn",
  );
  try {
    await cli.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`conclave: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConclaveError) {
      process.stderr.write(`conclave: ${error.message} [${error.code}]\n`);
      return EXIT.failure;
    }
    process.stderr.write(
      `conclave: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return EXIT.failure;
  } finally {
    restoreWarnings();
  }
}
