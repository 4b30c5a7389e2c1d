/**
 * `flow-proxy models` (the effective catalogue and mapping) and
 * `flow-proxy check-config` (validate the models file and exit). Both find
 * the file as `serve` does: `--config` > `FLOW_PROXY_CONFIG` (`.env`
 * included) > `models.json` beside the secrets file when it exists > none,
 * the built-in catalogue.
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import {
  defaultModelsFile,
  defaultSecretsFile,
} from "../config/default_paths.ts";
import { loadEnvironment } from "../config/env_file.ts";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import { formatModelsIssues, modelsCommand } from "../models/report.ts";
import type { ModelsIssue, ModelsReport } from "../models/config_file.ts";
import { loadModelsFile } from "../server/models_source.ts";
import { argumentError, type CommandIo, EXIT } from "./command.ts";

const FILE_OPTIONS =
  `  --config <path>         Models file [env: FLOW_PROXY_CONFIG]
                          default: models.json beside the secrets file if
                          present, else none (the built-in catalogue)
  --secrets-file <path>   Where the default models file is looked for
                          [env: FLOW_PROXY_SECRETS_FILE]
  --env-file <path>       Read variables from this file (default: .env if present)`;

const MODELS_USAGE =
  "Usage: flow-proxy models [--config <path>] [--secrets-file <path>] [--json]";

/** Help text of `models`. */
export const MODELS_HELP = `${MODELS_USAGE}

Show the effective models configuration: the catalogue (built in, plus the
models file), the mapping rules in the order they are tried, and how the ids
that Claude Code, Codex and the SDKs send by default are mapped. Exit 0, or 1
when the models file is invalid (every problem is printed), 2 on a usage error.

Options:
${FILE_OPTIONS}
  --json                  Print one JSON object: {source, compat, models,
                          aliases, patterns, builtInRules, defaults, examples}
  -h, --help              Show this help
`;

const CHECK_USAGE =
  "Usage: flow-proxy check-config [--config <path>] [--secrets-file <path>] [--json]";

/** Help text of `check-config`. */
export const CHECK_CONFIG_HELP = `${CHECK_USAGE}

Validate the models file and exit: 0 when valid (warnings allowed) or when
there is none, 1 when invalid, 2 on a usage error. Every problem is reported,
each with the file, line:column and field.

Options:
${FILE_OPTIONS}
  --json                  Print one JSON object: {file, valid, models,
                          errors, warnings}
  -h, --help              Show this help
`;

/** The object `check-config --json` prints. */
export interface CheckConfigJson {
  /** The models file, or null when there is none (built-in catalogue). */
  file: string | null;
  valid: boolean;
  /** Models in the effective catalogue; null when invalid. */
  models: number | null;
  errors: ModelsIssue[];
  warnings: ModelsIssue[];
}

/** Runs `models` with `args` (after the command name); returns the exit code. */
export async function modelsCliCommand(
  args: string[],
  io: CommandIo,
): Promise<number> {
  const parsed = parse(args, io, MODELS_USAGE, "models");
  if (typeof parsed === "number") return parsed;
  if (parsed.help) {
    io.stdout(MODELS_HELP);
    return EXIT.OK;
  }
  const report = parsed.file === null
    ? null
    : (await loadModelsFile(parsed.file, { cwd: io.cwd })).report;
  const out = modelsCommand(report, { json: parsed.json });
  io.stdout(out.stdout);
  io.stderr(out.stderr);
  return out.code;
}

/** Runs `check-config` with `args` (after the command name); returns the exit code. */
export async function checkConfigCommand(
  args: string[],
  io: CommandIo,
): Promise<number> {
  const parsed = parse(args, io, CHECK_USAGE, "check-config");
  if (typeof parsed === "number") return parsed;
  if (parsed.help) {
    io.stdout(CHECK_CONFIG_HELP);
    return EXIT.OK;
  }
  const report = parsed.file === null
    ? null
    : (await loadModelsFile(parsed.file, { cwd: io.cwd })).report;
  if (parsed.json) {
    io.stdout(JSON.stringify(toCheckConfigJson(report), null, 2) + "\n");
  } else if (report === null) {
    io.stdout("no models file: the built-in catalogue is used\n");
  } else {
    io.stdout(formatModelsIssues(report));
  }
  return report !== null && report.config === null ? EXIT.FAILURE : EXIT.OK;
}

/** The `--json` document of `check-config`. */
export function toCheckConfigJson(
  report: ModelsReport | null,
): CheckConfigJson {
  if (report === null) {
    return { file: null, valid: true, models: null, errors: [], warnings: [] };
  }
  const issue = (i: ModelsIssue): ModelsIssue => ({
    message: i.message,
    path: i.path,
    line: i.line,
    column: i.column,
  });
  return {
    file: report.file,
    valid: report.config !== null,
    models: report.config?.catalogue.entries.length ?? null,
    errors: report.errors.map(issue),
    warnings: report.warnings.map(issue),
  };
}

interface Parsed {
  help: boolean;
  json: boolean;
  /** The models file as the user named it (relative to `io.cwd`), or null. */
  file: string | null;
}

function parse(
  args: string[],
  io: CommandIo,
  usage: string,
  command: string,
): Parsed | number {
  const fail = (message: string) =>
    argumentError(
      io,
      message,
      `${usage}\nRun "flow-proxy ${command} --help" for details.\n`,
    );
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "config": { type: "string" },
        "secrets-file": { type: "string" },
        "json": { type: "boolean" },
        "env-file": { type: "string" },
        "help": { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return fail(cleanParseArgsMessage(err));
  }
  if (values.help) return { help: true, json: false, file: null };
  try {
    return {
      help: false,
      json: values.json ?? false,
      file: modelsFileName(values, io),
    };
  } catch (err) {
    if (err instanceof ArgumentError) return fail(err.message);
    throw err;
  }
}

/** The models file: flag > environment (.env included) > beside the secrets file > none. */
function modelsFileName(
  values: {
    config?: string;
    "secrets-file"?: string;
    "env-file"?: string;
  },
  io: CommandIo,
): string | null {
  for (const flag of ["config", "secrets-file", "env-file"] as const) {
    if (values[flag] === "") {
      throw new ArgumentError(`--${flag} must not be empty`);
    }
  }
  const envFile = values["env-file"];
  // Loaded even when the flag wins, so that a bad --env-file is always reported.
  const { env } = loadEnvironment(
    envFile === undefined ? undefined : resolve(io.cwd, envFile),
    { env: io.env, cwd: io.cwd },
  );
  if (values.config !== undefined) return values.config;
  if (env.FLOW_PROXY_CONFIG) return env.FLOW_PROXY_CONFIG;
  const credentialsDirectory = env.CREDENTIALS_DIRECTORY;
  const secretsFile = values["secrets-file"] ||
    env.FLOW_PROXY_SECRETS_FILE ||
    defaultSecretsFile(
      credentialsDirectory
        ? {
          ...env,
          CREDENTIALS_DIRECTORY: resolve(io.cwd, credentialsDirectory),
        }
        : env,
    );
  return defaultModelsFile(secretsFile, io.cwd);
}
