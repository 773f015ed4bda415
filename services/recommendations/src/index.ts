/**
 * The Recommendations service as a library, for tests and tools that build it in-process.
 * The deployable's entry point is `main.ts`.
 * @packageDocumentation
 */
export {
  ANONYMOUS_METHODS,
  createRecommendationsServer,
  type RecommendationsServerDeps,
  recommendationsService,
  recommendationsServiceFor,
  standaloneRecommendationsService,
} from "./app.js";
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
export type { RecommendationsSchema } from "./db/schema.js";
export { LEGACY_ERRORS, V1_ERRORS } from "./errors.js";
export {
  buildModel,
  type ModelBook,
  modelFromBooksFile,
  type RecommendationModel,
  rankingScore,
  TUTORIAL_CATEGORIES,
} from "./model.js";
export { type RandomSource, sampleDistinct } from "./recommend.js";
export { DEFAULT_MAX_RESULTS, DEFAULT_SIMILAR_RESULTS, MAX_LIST_RESULTS } from "./recommendations-v1-handlers.js";
export {
  DEFAULT_METRICS_PORT,
  DEFAULT_PORT,
  type RunningRecommendations,
  STARTED_MESSAGE,
  type StartRecommendationsOptions,
  startRecommendations,
} from "./start-recommendations.js";
