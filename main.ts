/**
 * flow-proxy: argv → command. Errors end here, in one `fatal()`.
 *
 * @module
 */
import { checkSecretsCommand } from "./src/cli/check_secrets.ts";
import { usageCommand } from "./src/cli/usage.ts";
import { keysCommand } from "./src/cli/keys.ts";
import { EXIT, serveCommand } from "./src/cli/serve.ts";
import { SecretsError } from "./src/config/secrets.ts";
import { UsageError } from "./src/config/settings.ts";
import { fatal, flushLogs, stderr, stdout } from "./src/base/logging.ts";
import { VERSION } from "./src/version.ts";

const USAGE = `Usage: flow-proxy <command> [options]

Commands:
  serve           Run the proxy
  check-secrets   Validate secrets.json and exit
  usage           Show request and token totals from the request log
  keys            Create, list and revoke client API keys

Options:
  -h, --help      Show this help (or: flow-proxy <command> --help)
  -V, --version   Show the version

Docs: README.md and docs/ in the repository.
`;

function usageError(message: string, command?: string): never {
  const usage = command
    ? `Usage: flow-proxy ${command} [options]\nRun 'flow-proxy ${command} --help' for the options.\n`
    : USAGE;
  stderr(`error: ${message}\n\n${usage}`);
  Deno.exit(EXIT.USAGE);
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const io = { env: Deno.env.toObject(), cwd: Deno.cwd(), stdout, stderr };
  switch (command) {
    case undefined:
      usageError("No command given");
      break;
    case "-h":
    case "--help":
    case "help":
      stdout(USAGE);
      return EXIT.OK;
    case "-V":
    case "--version":
    case "version":
      stdout(`flow-proxy ${VERSION}\n`);
      return EXIT.OK;
    case "serve":
      return await serveCommand(rest);
    case "check-secrets":
      return await checkSecretsCommand(rest, io);
    case "usage":
      return await usageCommand(rest, io);
    case "keys":
      return await keysCommand(rest, io);
  }
  if (command.startsWith("-")) usageError(`Unknown option '${command}'`);
  usageError(`Unknown command '${command}'`);
}

if (import.meta.main) {
  try {
    const code = await main(Deno.args);
    flushLogs();
    Deno.exit(code);
  } catch (err) {
    if (err instanceof UsageError) usageError(err.message, Deno.args[0]);
    if (err instanceof SecretsError) fatal(err.message, EXIT.FAILURE);
    fatal(err, EXIT.FAILURE);
  }
}
