// The Catalog service's definition and the pieces its tests and tools use.
export { catalogService } from "./app.js";
export { renderCover } from "./cover.js";
export type { CatalogSchema } from "./db/schema.js";
export { isIsbn13 } from "./validation.js";
