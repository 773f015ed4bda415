import { defineMigrations } from "@obfy/kit/db";
import * as createSubscriptionsAndDeliveries from "./0001-create-subscriptions-and-deliveries.js";

/** The Webhooks service's migrations, in order. */
export const webhooksMigrations = defineMigrations("webhooks", {
  "0001-create-subscriptions-and-deliveries": createSubscriptionsAndDeliveries,
});
