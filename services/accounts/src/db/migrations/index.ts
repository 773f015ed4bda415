import { defineMigrations } from "@obfy/kit/db";
import * as createAccounts from "./0001-create-accounts.js";

/** The Accounts' migrations, in order. */
export const accountsMigrations = defineMigrations("accounts", {
  "0001-create-accounts": createAccounts,
});
