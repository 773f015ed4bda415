// The Cart service's definition and the pieces its tests and tools use.
export { cartService } from "./app.js";
