// Keeps this process's in-memory model current. Every transaction that changes the read model
// (an event consumer's, the backfill's, on any replica) bumps `model_revision` and NOTIFYs the
// new revision at commit. Each process holds ONE connection that LISTENs there and reloads the
// whole model from one snapshot when a newer revision is announced; it also polls the revision
// (MODEL_POLL_INTERVAL_MS), so a notification lost with a dropped connection costs at most one
// interval. Reloads never overlap: notifications that arrive during one are folded into a single
// next reload. Calls keep being answered from the previous model meanwhile.
import type { Logger } from "@obfy/kit/core";
import { type Database, listenToChannel } from "@obfy/kit/db";
import type { BackgroundTask } from "@obfy/kit/service";
import type { Catalog } from "./catalog.js";
import { MODEL_CHANNEL } from "./db/migrations/0001-create-read-model.js";
import { readModelRevision, readSnapshot } from "./db/read-model.js";
import type { RecommendationsSchema } from "./db/schema.js";
import { buildModel, modelFromBooksFile, type RecommendationModel } from "./model.js";

/** The process's current model, as a background task that keeps it current. */
export interface ModelStore extends BackgroundTask {
  /** The model to answer from now (the hot path: a field read). */
  current(): RecommendationModel;
}

// A burst of commits (a backfill page, a queue of events) becomes one reload.
const RELOAD_DELAY_MS = 20;

/** Creates the store; `start` loads the first model before the service listens. */
export function createModelStore(options: {
  readonly database: Database<RecommendationsSchema>;
  /** data/books.json: answers while the read model has no book. */
  readonly fallback: Catalog;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
}): ModelStore {
  const { database, fallback } = options;
  const logger = options.logger.child({ component: "model-store" });
  const fileModel = modelFromBooksFile(fallback);
  let model: RecommendationModel = fileModel;
  let loaded = -1;
  let stopped = true;
  let poll: NodeJS.Timeout | undefined;
  let reloading: Promise<void> | undefined;
  let again = false;
  let scheduled: NodeJS.Timeout | undefined;

  async function load(): Promise<void> {
    const snapshot = await readSnapshot(database.kysely);
    if (snapshot.revision <= loaded) return;
    const next =
      snapshot.books.length === 0 ? modelFromBooksFile(fallback, snapshot.revision) : buildModel(snapshot, fallback);
    if (next.source !== model.source) {
      logger.info(
        { source: next.source, books: next.bookCount, revision: next.revision },
        next.source === "catalog"
          ? "Recommending from the catalogue's books"
          : "The read model has no book yet: recommending from the books file",
      );
    }
    model = next;
    loaded = snapshot.revision;
    logger.debug({ revision: loaded, books: next.bookCount }, "Model reloaded");
  }

  /** One reload at a time; a request during one runs one more after it. */
  function reload(): Promise<void> {
    if (reloading !== undefined) {
      again = true;
      return reloading;
    }
    reloading = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again && !stopped);
      } finally {
        reloading = undefined;
      }
    })();
    return reloading;
  }

  function reloadSoon(): void {
    if (stopped || scheduled !== undefined) return;
    scheduled = setTimeout(() => {
      scheduled = undefined;
      reload().catch((error: unknown) => logger.warn({ err: error }, "Model reload failed; the poll tries again"));
    }, RELOAD_DELAY_MS);
    scheduled.unref();
  }

  async function check(): Promise<void> {
    if ((await readModelRevision(database.kysely)) > loaded) await reload();
  }

  // A lost connection is LISTENed again after 0.5 s, doubling up to 10 s (the kit's default).
  const listener = listenToChannel({
    source: database.pool,
    channel: MODEL_CHANNEL,
    logger,
    name: "Model",
    onNotification(revision) {
      if (Number(revision) > loaded) reloadSoon();
    },
    onListening(reconnected) {
      // Whatever committed while nobody listened.
      if (reconnected) reloadSoon();
    },
  });

  function schedulePoll(): void {
    if (stopped) return;
    poll = setTimeout(() => {
      check()
        .catch((error: unknown) => logger.warn({ err: error }, "Model revision poll failed"))
        .finally(schedulePoll);
    }, options.pollIntervalMs);
    poll.unref();
  }

  return {
    name: "model-store",
    current: () => model,
    async start() {
      stopped = false;
      // LISTEN first: a change committed while the first snapshot is read is then announced.
      await listener.start();
      try {
        await reload();
      } catch (error) {
        logger.warn({ err: error }, "Cannot read the read model; recommending from the books file until it can");
      }
      schedulePoll();
    },
    async stop() {
      stopped = true;
      clearTimeout(poll);
      clearTimeout(scheduled);
      await reloading?.catch(() => {});
      await listener.stop();
    },
  };
}
