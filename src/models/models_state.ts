/**
 * The models configuration a serving thread uses right now: the catalogue,
 * the mapping built from it, and the switch to a reloaded file. One object
 * per thread, handed to the request handler; a reload replaces what it holds
 * without the handler noticing.
 */
import { builtInModelsConfig } from "./config_file.ts";
import {
  createModelResolver,
  type ModelResolution,
  type ModelResolver,
} from "./mapping.ts";
import type { ApiKind, ModelsConfig } from "./types.ts";

/** The effective models configuration of one thread, replaceable on reload. */
export class ModelsState {
  #config: ModelsConfig;
  #resolve: ModelResolver;

  /** Starts with `config`, or the built-in catalogue when none is given. */
  constructor(config: ModelsConfig = builtInModelsConfig()) {
    this.#config = config;
    this.#resolve = createModelResolver(config);
  }

  /** The configuration in force. */
  get config(): ModelsConfig {
    return this.#config;
  }

  /** The Flow model a client's model id maps to on `api`, or null when none does. */
  resolve(requested: string, api: ApiKind): ModelResolution | null {
    return this.#resolve(requested, api);
  }

  /** Puts a reloaded configuration in force for the next request. */
  replace(config: ModelsConfig): void {
    this.#resolve = createModelResolver(config);
    this.#config = config;
  }
}
