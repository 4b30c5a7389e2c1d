/**
 * flow-proxy: argv → command. Errors end here, in one `fatal()`.
 *
 * @module
 */
import { checkSecretsCommand } from "./src/cli/check_secrets.ts";
import { usageCommand } from "./src/cli/usage.ts";
import { keysCommand } from "./src/cli/keys.ts";
import { usersCommand } from "./src/cli/users.ts";
import { teamsCommand } from "./src/cli/teams.ts";
import { auditCommand } from "./src/cli/audit.ts";
import { tokensCommand } from "./src/cli/tokens.ts";
import { serveCommand } from "./src/cli/serve.ts";
import { checkConfigCommand, modelsCliCommand } from "./src/cli/models.ts";
import {
  argumentError,
  type Command,
  type CommandIo,
  EXIT,
} from "./src/cli/command.ts";
import { SecretsError } from "./src/config/secrets.ts";
import { ArgumentError } from "./src/config/arguments.ts";
import { fatal, flushLogs, stderr, stdout } from "./src/base/logging.ts";
import { VERSION } from "./src/version.ts";

const USAGE = `Usage: flow-proxy <command> [options]

Commands:
  serve           Run the proxy
  check-secrets   Validate secrets.json and exit
  check-config    Validate the models file and exit
  models          Show the models catalogue and how model ids are mapped
  usage           Show request and token totals from the request log
  keys            Create, list and revoke client API keys
  users           Create and manage users of the admin API (roles, passwords)
  teams           Create, list and delete teams of users
  tokens          Create, list and revoke users' API tokens for the admin API
  audit           Show the audit trail (changes, logins, admin-token uses)

Options:
  -h, --help      Show this help (or: flow-proxy <command> --help)
  -V, --version   Show the version

Docs: README.md and docs/ in the repository.
`;

/** The commands, by the name typed after `flow-proxy`. */
const COMMANDS: Record<string, Command> = {
  "serve": serveCommand,
  "check-secrets": checkSecretsCommand,
  "check-config": checkConfigCommand,
  "models": modelsCliCommand,
  "usage": usageCommand,
  "keys": keysCommand,
  "users": (args, io) => usersCommand(args, io),
  "teams": teamsCommand,
  "tokens": (args, io) => tokensCommand(args, io),
  "audit": (args, io) => auditCommand(args, io),
};

/** Usage shown after an argument error: the command's pointer to its help, or the top-level usage. */
function usageOf(command: string | undefined): string {
  return command
    ? `\nUsage: flow-proxy ${command} [options]\nRun 'flow-proxy ${command} --help' for the options.\n`
    : `\n${USAGE}`;
}

async function main(args: string[], io: CommandIo): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
      return argumentError(io, "No command given", `\n${USAGE}`);
    case "-h":
    case "--help":
    case "help":
      io.stdout(USAGE);
      return EXIT.OK;
    case "-V":
    case "--version":
    case "version":
      io.stdout(`flow-proxy ${VERSION}\n`);
      return EXIT.OK;
  }
  if (Object.hasOwn(COMMANDS, command)) {
    return await COMMANDS[command](rest, io);
  }
  const what = command.startsWith("-") ? "option" : "command";
  return argumentError(io, `Unknown ${what} '${command}'`, `\n${USAGE}`);
}

if (import.meta.main) {
  const io = { env: Deno.env.toObject(), cwd: Deno.cwd(), stdout, stderr };
  try {
    const code = await main(Deno.args, io);
    flushLogs();
    Deno.exit(code);
  } catch (err) {
    if (err instanceof ArgumentError) {
      Deno.exit(argumentError(io, err.message, usageOf(Deno.args[0])));
    }
    if (err instanceof SecretsError) fatal(err.message, EXIT.FAILURE);
    fatal(err, EXIT.FAILURE);
  }
}
