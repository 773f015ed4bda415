import { defineMigrations } from "@obfy/kit/db";
import * as createCarts from "./0001-create-carts.js";

/** The Cart's migrations, in order. */
export const cartMigrations = defineMigrations("cart", {
  "0001-create-carts": createCarts,
});
