/**
 * `flow-proxy check-secrets`: validate the secrets file and exit
 * 0 (valid, warnings allowed), 1 (invalid) or 2 (usage error).
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { defaultSecretsFile } from "../config/default_paths.ts";
import { loadEnvironment } from "../config/env_file.ts";
import { ArgumentError, cleanParseArgsMessage } from "../config/arguments.ts";
import {
  type Credential,
  credentialKey,
  inspectSecretsFile,
  type SecretsIssue,
  type SecretsReport,
} from "../config/secrets.ts";
import { argumentError, type CommandIo, EXIT } from "./command.ts";

/** One credential in `--json` output: nothing secret. */
export interface CheckedCredential {
  /** 0-based position, as {@linkcode Credential.index}. */
  index: number;
  /** 1-based entry number, as in messages. */
  entry: number;
  name: string;
  tenant: string;
}

/** The object `check-secrets --json` prints. */
export interface CheckSecretsJson {
  file: string;
  valid: boolean;
  credentials: CheckedCredential[];
  errors: SecretsIssue[];
  warnings: SecretsIssue[];
}

const USAGE =
  "Usage: flow-proxy check-secrets [--secrets-file <path>] [--json] [--env-file <path>]";

/** Help text of `check-secrets`. */
export const CHECK_SECRETS_HELP = `${USAGE}

Validate the secrets file and exit: 0 when valid (warnings allowed),
1 when invalid, 2 on a usage error. Every problem is reported, not only
the first. No secret value is ever printed.

Options:
  --secrets-file <path>   Credentials file [env: FLOW_PROXY_SECRETS_FILE]
                          default: $CREDENTIALS_DIRECTORY/secrets.json if present,
                          else secrets.json
  --json                  Print one JSON object: {file, valid, credentials,
                          errors, warnings}
  --env-file <path>       Read variables from this file (default: .env if present)
  -h, --help              Show this help
`;

/** Names listed in the OK line before "and N more". */
const LISTED_NAMES = 20;

/** Runs `check-secrets` with `args` (after the command name); returns the exit code. */
export async function checkSecretsCommand(
  args: string[],
  io: CommandIo,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "secrets-file": { type: "string" },
        "json": { type: "boolean" },
        "env-file": { type: "string" },
        "help": { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return checkSecretsArgumentError(io, cleanParseArgsMessage(err));
  }
  if (values.help) {
    io.stdout(CHECK_SECRETS_HELP);
    return EXIT.OK;
  }

  let file: string;
  try {
    file = secretsFileName(values["secrets-file"], values["env-file"], io);
  } catch (err) {
    if (err instanceof ArgumentError) {
      return checkSecretsArgumentError(io, err.message);
    }
    throw err;
  }

  const report = await inspectSecretsFile(resolve(io.cwd, file), {
    displayName: file,
  });
  io.stdout(values.json ? formatJson(report) : formatText(report));
  return report.errors.length > 0 ? EXIT.FAILURE : EXIT.OK;
}

/** The file to check, as the user named it: flag > environment (.env included) > default. */
function secretsFileName(
  flag: string | undefined,
  envFile: string | undefined,
  io: CommandIo,
): string {
  if (flag === "") throw new ArgumentError("--secrets-file must not be empty");
  if (envFile === "") throw new ArgumentError("--env-file must not be empty");
  // Loaded even when the flag wins, so that a bad --env-file is always reported.
  const { env } = loadEnvironment(
    envFile === undefined ? undefined : resolve(io.cwd, envFile),
    { env: io.env, cwd: io.cwd },
  );
  if (flag !== undefined) return flag;
  const fromEnv = env.FLOW_PROXY_SECRETS_FILE;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const credentialsDirectory = env.CREDENTIALS_DIRECTORY;
  return defaultSecretsFile(
    credentialsDirectory
      ? { ...env, CREDENTIALS_DIRECTORY: resolve(io.cwd, credentialsDirectory) }
      : env,
  );
}

function checkSecretsArgumentError(io: CommandIo, message: string): number {
  return argumentError(
    io,
    message,
    `${USAGE}\nRun "flow-proxy check-secrets --help" for details.\n`,
  );
}

/** The `--json` document: credentials without any secret, issues as reported. */
export function toCheckSecretsJson(report: SecretsReport): CheckSecretsJson {
  return {
    file: report.file,
    valid: report.errors.length === 0,
    credentials: report.credentials.map((c) => ({
      index: c.index,
      entry: c.index + 1,
      name: c.name,
      tenant: c.tenant,
    })),
    errors: report.errors,
    warnings: report.warnings,
  };
}

function formatJson(report: SecretsReport): string {
  return JSON.stringify(toCheckSecretsJson(report), null, 2) + "\n";
}

function formatText(report: SecretsReport): string {
  const lines: string[] = [];
  const push = (label: string, issue: SecretsIssue) => {
    lines.push(`${label}: ${issue.message}`);
    if (issue.hint) lines.push(`hint: ${issue.hint}`);
  };
  for (const issue of report.errors) push("error", issue);
  for (const issue of report.warnings) push("warning", issue);

  const warnings = plural(report.warnings.length, "warning");
  if (report.errors.length > 0) {
    const errors = plural(report.errors.length, "error");
    lines.push(
      `${report.file}: invalid, ${errors}${
        report.warnings.length ? `, ${warnings}` : ""
      }`,
    );
  } else {
    const weights = formatWeights(report.credentials);
    if (weights) lines.push(weights);
    const count = plural(report.credentials.length, "credential");
    const suffix = report.warnings.length ? ` (${warnings})` : "";
    lines.push(
      `${report.file}: OK, ${count}: ${
        formatNames(report.credentials)
      }${suffix}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Names in file order, repeats folded: `primary ×3, backup`. */
function formatNames(credentials: Credential[]): string {
  const counts = new Map<string, number>();
  for (const c of credentials) {
    counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  }
  const names = [...counts].map((
    [name, n],
  ) => (n > 1 ? `${name} ×${n}` : name));
  if (names.length <= LISTED_NAMES) return names.join(", ");
  return `${names.slice(0, LISTED_NAMES).join(", ")} and ${
    names.length - LISTED_NAMES
  } more`;
}

/**
 * `rotation weights: primary 75 %, backup 25 %` when some credential set is
 * repeated (the way rotation is weighted), else null.
 */
export function formatWeights(credentials: Credential[]): string | null {
  const groups = new Map<string, { names: string[]; count: number }>();
  for (const c of credentials) {
    const key = credentialKey(c);
    const group = groups.get(key) ?? { names: [], count: 0 };
    if (!group.names.includes(c.name)) group.names.push(c.name);
    group.count++;
    groups.set(key, group);
  }
  if (groups.size === credentials.length) return null;
  const total = credentials.length;
  const parts = [...groups.values()].map((g) => {
    const percent = Math.round((g.count * 1000) / total) / 10;
    return `${g.names.join("/")} ${percent} %`;
  });
  return `rotation weights: ${parts.join(", ")}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
