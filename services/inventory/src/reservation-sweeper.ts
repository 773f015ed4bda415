// Expired reservations give their stock back by themselves: every interval each replica claims
// held reservations past their expiry with FOR UPDATE SKIP LOCKED (so replicas sweeping at once
// take different ones and none waits for another), releases their stock and publishes
// ReservationReleased (reason "expired") in the same transaction.
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import type { BackgroundTask } from "@obfy/kit/service";
import { claimExpiredReservations } from "./db/reservations.js";
import type { InventorySchema } from "./db/schema.js";
import { lockStocks } from "./db/stock.js";
import { giveBack } from "./reservations.js";

/** Reservations expired per transaction. */
const BATCH = 100;

/** Options for {@link createReservationSweeper}. */
export interface ReservationSweeperOptions {
  readonly database: Database<InventorySchema>;
  readonly bus: Pick<EventBus<InventorySchema>, "publish">;
  readonly logger: Logger;
  /** Time between sweeps. */
  readonly intervalMs: number;
}

/** The sweeper, and `sweepOnce` for tests: resolves with how many reservations it expired. */
export function createReservationSweeper(
  options: ReservationSweeperOptions,
): BackgroundTask & { sweepOnce(): Promise<number> } {
  const { database, bus } = options;
  const logger = options.logger.child({ component: "reservation-sweeper" });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function sweepOnce(): Promise<number> {
    let total = 0;
    while (true) {
      const expired = await database.transaction(async (trx) => {
        const due = await claimExpiredReservations(trx, BATCH);
        // Every stock row of the batch in one statement, in book-id order (see reservations.ts):
        // locking them reservation by reservation could cross another transaction's order.
        await lockStocks(trx, [...new Set(due.flatMap((r) => r.lines.map((l) => l.bookId)))]);
        for (const reservation of due) await giveBack(trx, bus, reservation, "expired");
        return due.length;
      });
      total += expired;
      if (expired < BATCH) return total;
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = sweepOnce()
        .then(
          (count) => {
            if (count > 0) logger.info({ expired: count }, "Expired reservations released");
          },
          (error: unknown) => logger.warn({ err: error }, "Reservation sweep failed; trying again"),
        )
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, options.intervalMs);
    timer.unref();
  }

  return {
    name: "reservation-sweeper",
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
