// The Inventory service's definition and the pieces its tests and tools use.
export { inventoryService } from "./app.js";
export { orderReservationKey } from "./saga.js";
