import { defineMigrations } from "@obfy/kit/db";
import * as createPayments from "./0001-create-payments.js";

/** The Payments' migrations, in order. */
export const paymentsMigrations = defineMigrations("payments", {
  "0001-create-payments": createPayments,
});
