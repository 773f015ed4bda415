import { defineMigrations } from "@obfy/kit/db";
import * as createReadModel from "./0001-create-read-model.js";

/** The Recommendations' migrations, in order. */
export const recommendationsMigrations = defineMigrations("recommendations", {
  "0001-create-read-model": createReadModel,
});
