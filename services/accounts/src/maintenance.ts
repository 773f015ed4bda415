// Periodic work on every replica (each step is safe to run concurrently): signing key rotation,
// and deleting ended sessions, retired keys and stale sign-in counters.
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { BackgroundTask } from "@obfy/kit/service";
import type { AccountsSchema } from "./db/schema.js";
import { deleteEndedSessions } from "./db/sessions.js";
import { deleteStaleCounters } from "./db/sign-in-throttle.js";
import type { TokenIssuer } from "./token-issuer.js";

/** Ended sessions are kept this many days (the account page can still explain a sign-out). */
const ENDED_SESSION_DAYS = 30;

export function createMaintenance(options: {
  readonly database: Database<AccountsSchema>;
  readonly issuer: TokenIssuer;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly failureResetSeconds: number;
}): BackgroundTask & { runOnce(): Promise<void> } {
  const { database, issuer, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const runOnce = async (): Promise<void> => {
    const kid = await issuer.rotate();
    if (kid !== undefined) logger.info({ kid }, "New signing key published");
    issuer.reload();
    await issuer.deleteOldKeys();
    await deleteEndedSessions(database.kysely, ENDED_SESSION_DAYS);
    await deleteStaleCounters(database.kysely, options.failureResetSeconds);
  };
  const tick = () => {
    running ??= runOnce()
      .catch((error: unknown) =>
        logger.warn({ err: error }, "Accounts maintenance failed; retrying at the next interval"),
      )
      .finally(() => {
        running = undefined;
      });
  };
  return {
    name: "accounts-maintenance",
    runOnce,
    start() {
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await running;
    },
  };
}
