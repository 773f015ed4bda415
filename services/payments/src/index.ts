// The Payments service's definition and the pieces its tests and tools use.
export { paymentsService } from "./app.js";
export { TEST_CARD_BEHAVIOURS } from "./cards.js";
export { orderAuthorizeKey } from "./payments.js";
