import { defineMigrations } from "@obfy/kit/db";
import * as createReviews from "./0001-create-reviews.js";

/** The Reviews' migrations, in order. */
export const reviewsMigrations = defineMigrations("reviews", {
  "0001-create-reviews": createReviews,
});
