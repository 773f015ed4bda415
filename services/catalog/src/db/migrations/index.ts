import { defineMigrations } from "@obfy/kit/db";
import * as createBooks from "./0001-create-books.js";

/** The Catalog's migrations, in order. */
export const catalogMigrations = defineMigrations("catalog", {
  "0001-create-books": createBooks,
});
