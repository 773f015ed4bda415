import { defineMigrations } from "@obfy/kit/db";
import * as createMails from "./0001-create-mails.js";

/** The Notifications' migrations, in order. */
export const notificationsMigrations = defineMigrations("notifications", {
  "0001-create-mails": createMails,
});
