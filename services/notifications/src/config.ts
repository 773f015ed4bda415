import { envString } from "@obfy/kit/core";
import { readEventBusConfig } from "@obfy/kit/events";

/** The Notifications' own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface NotificationsConfig {
  /** `SMTP_URL` (e.g. `smtp://user:pass@mail:587`): send over SMTP; unset, mails go to the local mailbox. */
  readonly smtpUrl: string | undefined;
  /** `MAIL_FROM`: the From of every mail. */
  readonly mailFrom: string;
  /** `MARKETPLACE_URL`: where shoppers open the store; mails link to `<url>/orders/<id>`. */
  readonly marketplaceUrl: string;
  /** `EVENT_BUS_MAX_ATTEMPTS`: the kit's attempt limit, after which a mail is FAILED. */
  readonly maxAttempts: number;
}

/** Reads {@link NotificationsConfig}; a bad value throws naming the variable. */
export function readNotificationsConfig(env: NodeJS.ProcessEnv): NotificationsConfig {
  const smtpUrl = envString(env, "SMTP_URL", "");
  if (smtpUrl !== "" && !/^smtps?:\/\//i.test(smtpUrl)) {
    throw new Error(`SMTP_URL must start with smtp:// or smtps://, got ${JSON.stringify(smtpUrl.split(":")[0])}`);
  }
  const marketplaceUrl = envString(env, "MARKETPLACE_URL", "http://127.0.0.1:5000");
  if (!/^https?:\/\//i.test(marketplaceUrl)) {
    throw new Error(`MARKETPLACE_URL must be an http(s) URL, got ${JSON.stringify(marketplaceUrl)}`);
  }
  return {
    smtpUrl: smtpUrl === "" ? undefined : smtpUrl,
    mailFrom: envString(env, "MAIL_FROM", "Online Books For You <orders@onlinebooks.example>"),
    marketplaceUrl,
    maxAttempts: readEventBusConfig(env).maxAttempts,
  };
}
