// Nothing waits forever: every interval each replica claims pending orders past their step's
// deadline with FOR UPDATE SKIP LOCKED (replicas sweeping at once take different ones, and an
// order a saga handler holds is left for the next sweep, when that handler has decided it),
// cancels them "timed out" and publishes OrderCancelled in the same transaction, so whatever
// did happen is compensated (stock released, a late authorization voided).
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import type { BackgroundTask } from "@obfy/kit/service";
import { claimOverdueOrders } from "./db/orders.js";
import type { OrdersSchema } from "./db/schema.js";
import { CANCEL_REASONS, cancel } from "./transitions.js";

/** Orders cancelled per transaction. */
const BATCH = 100;

/** Options for {@link createCheckoutSweeper}. */
export interface CheckoutSweeperOptions {
  readonly database: Database<OrdersSchema>;
  readonly bus: Pick<EventBus<OrdersSchema>, "publish">;
  readonly logger: Logger;
  /** Time between sweeps. */
  readonly intervalMs: number;
}

/** The sweeper, and `sweepOnce` for tests: resolves with how many orders it cancelled. */
export function createCheckoutSweeper(options: CheckoutSweeperOptions): BackgroundTask & {
  sweepOnce(): Promise<number>;
} {
  const { database, bus } = options;
  const logger = options.logger.child({ component: "checkout-sweeper" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function sweepOnce(): Promise<number> {
    let total = 0;
    while (true) {
      const cancelled = await database.transaction(async (trx) => {
        const due = await claimOverdueOrders(trx, BATCH);
        for (const order of due) {
          await cancel(trx, bus, order, "CANCEL_CODE_TIMED_OUT", CANCEL_REASONS.timedOut);
          logger.info({ order_id: order.id, step: order.step }, "Checkout timed out");
        }
        return due.length;
      });
      total += cancelled;
      if (cancelled < BATCH) return total;
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = sweepOnce()
        .then(
          (count) => {
            if (count > 0) logger.info({ cancelled: count }, "Timed-out checkouts cancelled");
          },
          (error: unknown) => logger.warn({ err: error }, "Checkout sweep failed; trying again"),
        )
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, options.intervalMs);
    timer.unref();
  }

  return {
    name: "checkout-sweeper",
    sweepOnce,
    start() {
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
