// The Orders service's definition and the pieces its tests and tools use.
export { ordersService } from "./app.js";
export type { OrdersSchema } from "./db/schema.js";
