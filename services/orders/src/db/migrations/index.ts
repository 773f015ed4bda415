import { defineMigrations } from "@obfy/kit/db";
import * as createOrders from "./0001-create-orders.js";

/** The Orders' migrations, in order. */
export const ordersMigrations = defineMigrations("orders", {
  "0001-create-orders": createOrders,
});
