// The Reviews service's definition and the pieces its tests and tools use.
export { reviewsService } from "./app.js";
