import { defineMigrations } from "@obfy/kit/db";
import * as createStockAndReservations from "./0001-create-stock-and-reservations.js";

/** The Inventory's migrations, in order. */
export const inventoryMigrations = defineMigrations("inventory", {
  "0001-create-stock-and-reservations": createStockAndReservations,
});
