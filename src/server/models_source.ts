/**
 * The models file as the supervisor reads it and the serving threads take
 * it. The supervisor validates the file; what crosses `postMessage` is the
 * text and its name, and each thread validates that text again into its own
 * configuration. A structured clone would lose the frozen objects and the
 * shared defaults the rewrite code compares by identity (`DEFAULT_COMPAT`),
 * and validating a few kilobytes once per reload per thread costs nothing.
 *
 * @module
 */
import { resolve } from "node:path";
import { readRegularFile } from "../config/safe_read.ts";
import {
  MAX_MODELS_FILE_BYTES,
  type ModelsReport,
  readModelsConfigFile,
  validateModelsConfig,
} from "../models/config_file.ts";
import type { ModelsConfig } from "../models/types.ts";

/** A valid models file as it crosses `postMessage`: its name and its text. */
export interface ModelsSource {
  /** The path as the user gave it (used in messages and as the config's source). */
  file: string;
  text: string;
}

/** What reading the models file gave: the report, and the text when it is valid. */
export interface LoadedModels {
  report: ModelsReport;
  /** Set when the report has no errors. */
  source: ModelsSource | null;
}

/** Options of {@linkcode loadModelsFile}. */
export interface LoadModelsOptions {
  /** Directory a relative `file` is read from; the process's by default. */
  cwd?: string;
}

/**
 * Reads and validates the models file `file` (named so in every message).
 * Never throws for I/O: a missing, unreadable or oversized file is an error
 * in the report. The bounded reader refuses a FIFO or `/dev/zero`, which
 * would stall a reload.
 */
export async function loadModelsFile(
  file: string,
  options: LoadModelsOptions = {},
): Promise<LoadedModels> {
  let bytes: Uint8Array | null = null;
  const path = options.cwd === undefined ? file : resolve(options.cwd, file);
  const report = await readModelsConfigFile(path, {
    displayName: file,
    readFile: async (path) => {
      // One byte over the limit lets the validator say "too large" itself.
      bytes = (await readRegularFile(path, MAX_MODELS_FILE_BYTES + 1)).bytes;
      return bytes;
    },
  });
  if (report.config === null || bytes === null) return { report, source: null };
  return {
    report,
    source: { file, text: new TextDecoder().decode(bytes) },
  };
}

/**
 * The configuration a serving thread builds from what the supervisor sent
 * (already validated there); throws if the text is somehow invalid here.
 */
export function modelsConfigOf(source: ModelsSource): ModelsConfig {
  const report = validateModelsConfig(source.text, source.file);
  if (report.config === null) {
    throw new TypeError(
      `Models file "${source.file}" is invalid: ${
        report.errors.map((e) => e.message).join("; ")
      }`,
    );
  }
  return report.config;
}

/** The fatal message for a models file with errors at start: every problem, one per line. */
export function modelsStartError(report: ModelsReport): Error {
  const n = report.errors.length;
  return new Error(
    [
      `Models file "${report.file}" is invalid (${n} error${
        n === 1 ? "" : "s"
      }):`,
      ...report.errors.map((e) => `  ${e.message}`),
    ].join("\n"),
  );
}

/** `N models, N aliases, N patterns`: what a loaded configuration holds. */
export function describeModels(config: ModelsConfig): string {
  const count = (n: number, one: string, many: string) =>
    `${n} ${n === 1 ? one : many}`;
  return [
    count(config.catalogue.entries.length, "model", "models"),
    count(config.aliases.size, "alias", "aliases"),
    count(config.patterns.length, "pattern", "patterns"),
  ].join(", ");
}
