/**
 * The Recommendations service as a library, for tests and tools that build it in-process.
 * The deployable's entry point is `main.ts`.
 * @packageDocumentation
 */
export { createRecommendationsServer, type RecommendationsServerDeps } from "./app.js";
export {
  CATEGORY_NAMES,
  type Catalog,
  type CatalogBook,
  CatalogError,
  type CategoryName,
  DEFAULT_BOOKS_FILE,
  loadCatalog,
  parseCatalog,
} from "./catalog.js";
export { LEGACY_ERRORS } from "./legacy-recommendations-handlers.js";
export { type RandomSource, sampleDistinct } from "./recommend.js";
export { DEFAULT_MAX_RESULTS, V1_ERRORS } from "./recommendations-v1-handlers.js";
export {
  DEFAULT_METRICS_PORT,
  DEFAULT_PORT,
  type RunningRecommendations,
  STARTED_MESSAGE,
  type StartRecommendationsOptions,
  startRecommendations,
} from "./start-recommendations.js";
