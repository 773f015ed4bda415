import { envBool, envString } from "@obfy/kit/core";
import { DEFAULT_DATA_FILE } from "./seed.js";

/** The Catalog's own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface CatalogConfig {
  /** `CATALOG_DATA_FILE`: the opening list of categories and books (data/books.json). */
  readonly dataFile: string;
  /** `CATALOG_SEED`: seed an empty database at start (default true). */
  readonly seed: boolean;
}

/** Reads {@link CatalogConfig}; a bad value throws naming the variable. */
export function readCatalogConfig(env: NodeJS.ProcessEnv): CatalogConfig {
  return {
    dataFile: envString(env, "CATALOG_DATA_FILE", DEFAULT_DATA_FILE),
    seed: envBool(env, "CATALOG_SEED", true),
  };
}
