/**
 * Settings for `flow-proxy serve`: flag > environment > `.env` file > default.
 *
 * Every option is one row of {@linkcode SERVE_OPTIONS} (`serve_options.ts`),
 * default included; this module applies the precedence and the checks that
 * span options.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeIoError } from "../base/describe.ts";
import {
  ArgumentError,
  cleanParseArgsMessage,
  joinNegativeValues,
} from "./arguments.ts";
import { defaultModelsFile } from "./default_paths.ts";
import { loadEnvironment } from "./env_file.ts";
import { readSmallTextFileSync } from "./safe_read.ts";
import {
  type DefaultContext,
  EXTRA_OPTIONS,
  type OptionSource,
  SERVE_OPTIONS,
  type Settings,
} from "./serve_options.ts";
import { convertOption } from "./values.ts";

export type { Settings };

/** Inputs of {@linkcode resolveSettings}, injectable for tests. */
export interface ResolveOptions {
  /** Process environment; defaults to `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
  /** Directory where `.env` and relative defaults are looked up. */
  cwd?: string;
  /** CPU count used for the default number of workers. */
  cpus?: number;
}

/** Outcome of parsing `serve` arguments: settings, or a request for help. */
export type ResolveResult = { help: true } | {
  help: false;
  settings: Settings;
};

/** Parses `serve` arguments and the environment into settings. */
export function resolveSettings(
  args: string[],
  options: ResolveOptions = {},
): ResolveResult {
  const cwd = options.cwd ?? Deno.cwd();
  const parsed = parseFlags(args);
  if (parsed.values.help) return { help: true };

  // `.env` never overrides the real environment (as process.loadEnvFile).
  const { envFile, env, fileVars } = loadEnvironment(
    parsed.values["env-file"] as string | undefined,
    options,
  );

  const values: Record<string, unknown> = {};
  const sources = new Map<keyof Settings, string>();
  const optionSources: Partial<Record<keyof Settings, OptionSource>> = {};
  for (const spec of SERVE_OPTIONS) {
    const flagValue = parsed.values[spec.flag];
    if (flagValue !== undefined) {
      sources.set(spec.key, `--${spec.flag}`);
      optionSources[spec.key] = "flag";
      values[spec.key] = convertOption(spec, flagValue, `--${spec.flag}`);
    } else if (
      spec.env && env[spec.env] !== undefined && env[spec.env] !== ""
    ) {
      // A value from the .env file says so: the user may not know it is there.
      const source = fileVars.has(spec.env)
        ? `${spec.env} (from ${envFile})`
        : spec.env;
      sources.set(spec.key, source);
      optionSources[spec.key] = fileVars.has(spec.env) ? "file" : "env";
      values[spec.key] = convertOption(spec, env[spec.env]!, source);
    }
  }
  if (parsed.values["no-db"]) {
    values.dbPath = null;
    optionSources.dbPath = "flag";
  }

  let adminToken = values.adminToken as string | undefined;
  const tokenFile = (parsed.values["admin-token-file"] as string | undefined) ??
    env.FLOW_PROXY_ADMIN_TOKEN_FILE;
  if (adminToken === undefined && tokenFile) {
    try {
      adminToken = readSmallTextFileSync(tokenFile).trim();
    } catch (err) {
      throw new ArgumentError(
        `Cannot read admin token file "${tokenFile}": ${describeIoError(err)}`,
      );
    }
    if (adminToken === "") {
      throw new ArgumentError(`Admin token file "${tokenFile}" is empty`);
    }
  }
  if (adminToken !== undefined) values.adminToken = adminToken;
  if (adminToken !== undefined && optionSources.adminToken === undefined) {
    optionSources.adminToken = parsed.values["admin-token-file"] !== undefined
      ? "flag"
      : "env";
  }

  const settings: Settings = {
    ...defaults({ env, cwd, cpus: options.cpus }),
    ...values,
    envFile,
    optionSources,
  } as Settings;
  if (!sources.has("modelsFile")) {
    settings.modelsFile = defaultModelsFile(settings.secretsFile, cwd);
  }
  if (settings.backoffMax < settings.backoffBase) {
    // The balancer needs base ≤ max; blame the one the user set.
    const base = sources.get("backoffBase");
    const max = sources.get("backoffMax") ?? "--backoff-max";
    throw new ArgumentError(
      base
        ? `${base} must not be longer than ${max} (${settings.backoffMax} ms), got ${settings.backoffBase} ms`
        : `${max} must not be shorter than --backoff-base (${settings.backoffBase} ms), got ${settings.backoffMax} ms`,
    );
  }
  if (settings.adminToken !== null && settings.adminToken.length < 16) {
    throw new ArgumentError("Admin token must be at least 16 characters long");
  }
  if (settings.clickhouseUrl) {
    settings.clickhouseUser ??= null;
    settings.clickhousePassword ??= null;
  }
  return { help: false, settings };
}

/** Every option's default, from its row; then the settings that have no option. */
function defaults(context: DefaultContext): Settings {
  const values: Record<string, unknown> = {};
  for (const spec of SERVE_OPTIONS) {
    const value = typeof spec.default === "function"
      ? spec.default(context)
      : spec.default;
    // A fresh copy: the row's value is shared by every resolve.
    values[spec.key] = value instanceof URL
      ? new URL(value)
      : Array.isArray(value)
      ? [...value]
      : value;
  }
  return {
    ...values,
    envFile: null,
    clickhouseUser: context.env.FLOW_PROXY_CLICKHOUSE_USER ?? null,
    clickhousePassword: context.env.FLOW_PROXY_CLICKHOUSE_PASSWORD ?? null,
  } as Settings;
}

function parseFlags(args: string[]) {
  const options: Record<
    string,
    { type: "string" | "boolean"; multiple?: boolean; short?: string }
  > = {
    ...EXTRA_OPTIONS,
  };
  for (const spec of SERVE_OPTIONS) {
    options[spec.flag] = spec.switch
      ? { type: "boolean" }
      : { type: "string", multiple: spec.kind === "list" };
  }
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new ArgumentError(cleanParseArgsMessage(err));
  }
}
