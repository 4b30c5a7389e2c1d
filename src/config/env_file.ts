/**
 * The environment as commands see it: the `.env` file under the real
 * environment, which always wins (as `process.loadEnvFile` does).
 *
 * @module
 */
import { parseEnv } from "node:util";
import { join } from "node:path";
import { describeIoError } from "../base/describe.ts";
import { ArgumentError } from "./arguments.ts";
import { readSmallTextFileSync } from "./safe_read.ts";

/** Where {@linkcode loadEnvironment} looks. */
export interface EnvironmentOptions {
  /** Process environment; defaults to `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
  /** Directory where `.env` is looked up. */
  cwd?: string;
}

/** The environment that {@linkcode loadEnvironment} made. */
export interface LoadedEnvironment {
  /** The `.env` file that was read, or null. */
  envFile: string | null;
  env: Record<string, string | undefined>;
  /** Variables whose value came from the `.env` file (not overridden by the environment). */
  fileVars: Set<string>;
}

/**
 * The environment as commands see it: `.env` (the explicit file, or `.env` in
 * `cwd` when present) under the real environment, which always wins.
 */
export function loadEnvironment(
  explicitEnvFile: string | undefined,
  options: EnvironmentOptions = {},
): LoadedEnvironment {
  const processEnv = options.env ?? Deno.env.toObject();
  const file = readEnvFile(explicitEnvFile, options.cwd ?? Deno.cwd());
  const fileVars = new Set(
    Object.keys(file.vars).filter((name) => processEnv[name] === undefined),
  );
  return { envFile: file.path, env: { ...file.vars, ...processEnv }, fileVars };
}

function readEnvFile(
  explicit: string | undefined,
  cwd: string,
): { path: string | null; vars: Record<string, string> } {
  const path = explicit ?? join(cwd, ".env");
  let text: string;
  try {
    text = readSmallTextFileSync(path);
  } catch (err) {
    if (explicit === undefined && err instanceof Deno.errors.NotFound) {
      return { path: null, vars: {} };
    }
    throw new ArgumentError(
      `Cannot read env file "${path}": ${describeIoError(err)}`,
    );
  }
  return { path, vars: { ...parseEnv(text) } as Record<string, string> };
}
