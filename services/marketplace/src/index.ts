/**
 * The Marketplace web app as a library, for tests and tools that build it in-process.
 * The deployable's entry point is `main.ts`.
 * @packageDocumentation
 */
export { BOOKS_PER_PAGE, createMarketplace, type Marketplace, type MarketplaceOptions } from "./app.js";
export { CATEGORIES, CATEGORY_SLUGS, type CategorySlug, DEFAULT_CATEGORY, isCategorySlug } from "./categories.js";
export { EMPTY_NOTICE, type PageBook, renderErrorPage, renderHomepage, UNAVAILABLE_NOTICE } from "./homepage.js";
export {
  PREFERENCE_COOKIE,
  type PreferencesOptions,
  preferredCategory,
  registerPreferences,
  renderPreferencesForm,
} from "./preferences.js";
export type { Recommendations, RecommendationsConnectivity, RecommendOptions } from "./recommendations.js";
export {
  createRecommendationsClient,
  DEFAULT_RECOMMENDATIONS_TIMEOUT_MS,
  type RecommendationsClient,
  type RecommendationsClientOptions,
  recommendationsTarget,
} from "./recommendations-client.js";
export { readSecurityConfig, registerSecurity, type SecurityConfig } from "./security/index.js";
export {
  DEFAULT_MARKETPLACE_METRICS_PORT,
  DEFAULT_RECOMMENDATIONS_METRICS_PORT,
  type RunningMarketplace,
  type StartMarketplaceOptions,
  startMarketplace,
} from "./start-marketplace.js";
