/**
 * The Marketplace web app as a library, for tests and tools that build it in-process.
 * The deployable's entry point is `main.ts`.
 * @packageDocumentation
 */
export { createMarketplace, type Marketplace, type MarketplaceOptions } from "./app.js";
export { DEFAULT_CALL_TIMEOUT_MS, UNAVAILABLE_NOTICE } from "./calls.js";
export { SIGN_IN_FAILED } from "./routes/account.js";
export { STATUS_LABELS } from "./routes/orders.js";
export { MAX_REVIEW_LENGTH, MAX_SEARCH_LENGTH } from "./routes/shop.js";
export { readSecurityConfig, registerSecurity, type SecurityConfig } from "./security/index.js";
export { ACCESS_COOKIE, CART_COOKIE, SESSION_COOKIE, type Shopper } from "./session.js";
export {
  DEFAULT_MARKETPLACE_METRICS_PORT,
  DEFAULT_RECOMMENDATIONS_METRICS_PORT,
  type RunningMarketplace,
  type StartMarketplaceOptions,
  startMarketplace,
} from "./start-marketplace.js";
export {
  createStore,
  DEAD_LETTER_SERVICES,
  STORE_SERVICES,
  type Store,
  type StoreServiceName,
  storeAddress,
} from "./store.js";
export { VIEWS_DIR } from "./views.js";
