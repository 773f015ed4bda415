import { type Job, type JobResult, type JobWithMetadata, PgBoss, type Queue } from "pg-boss";
import type { Logger } from "../../logger.js";
import { type CloudEvent, fromStructuredCloudEvent, toStructuredCloudEvent } from "../cloudevents.js";
import type { EventBusConfig } from "../config.js";
import type { DeadLetter, DeadLetterSelection } from "../dead-letters.js";
import { deadLetterQueue, physicalName } from "./names.js";
import type { QueueConsumer, Received, Transport } from "./transport.js";

/** pg-boss's schema in the bus database. */
const SCHEMA = "pgboss";
/** Jobs waiting to run, and dead letters, are kept this long (pg-boss's maximum). */
const RETENTION_SECONDS = 365 * 24 * 3600;
/** Completed jobs are kept a day for inspection; the consumers' processed_events is the record. */
const COMPLETED_RETENTION_SECONDS = 24 * 3600;
/** Pages of dead letters redriven or looked up at once. */
const PAGE = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function outputMessage(output: unknown): string | undefined {
  if (output === null || output === undefined) return undefined;
  if (typeof output === "string") return output;
  if (typeof output === "object" && "message" in output && typeof output.message === "string") return output.message;
  return JSON.stringify(output);
}

function describeDeadLetter(queue: string, job: JobWithMetadata<unknown>): DeadLetter {
  let event: CloudEvent | undefined;
  try {
    event = fromStructuredCloudEvent(job.data);
  } catch {
    event = undefined;
  }
  return {
    id: event?.id ?? job.id,
    queue,
    type: event?.type,
    source: event?.source,
    subject: event?.subject,
    time: event?.time,
    attempts:
      job.sourceRetryCount === null || job.sourceRetryCount === undefined ? undefined : job.sourceRetryCount + 1,
    error: outputMessage(job.sourceOutput),
    deadLetteredAt: job.createdOn,
    dataBytes: event?.data.length ?? 0,
  };
}

/**
 * The PostgreSQL transport: pg-boss in a database of its own (`EVENT_BUS_DATABASE_URL`).
 *
 * - events are pg-boss publish/subscribe: each subscribing service's queue (named after it) is
 *   subscribed to the types it handles, and `publish` creates one job per subscribed queue;
 * - a task is a job sent to its work queue; until a worker has created that queue the send fails
 *   and the task stays in the outbox;
 * - job data is the CloudEvent in the JSON format (`data_base64`);
 * - retries use pg-boss's exponential backoff with jitter (`retryDelay` rounded up to whole
 *   seconds), then the queue's dead-letter queue; a worker that dies mid-job stops sending
 *   heartbeats and pg-boss retries the job after `EVENT_BUS_HEARTBEAT_SECONDS`.
 */
export function createPostgresTransport(
  config: EventBusConfig,
  options: { service: string; logger: Logger },
): Transport {
  const { logger } = options;
  const namespace = config.namespace;
  let boss: PgBoss | undefined;
  const working: string[] = [];

  function started(): PgBoss {
    if (boss === undefined) throw new Error("the PostgreSQL event transport is not started");
    return boss;
  }

  function queueOptions(deadLetter: string): Omit<Queue, "name"> {
    return {
      retryLimit: config.maxAttempts - 1,
      retryDelay: Math.ceil(config.retryDelayMs / 1000),
      retryBackoff: true,
      retryDelayMax: Math.ceil(config.retryMaxDelayMs / 1000),
      expireInSeconds: config.handlerTimeoutSeconds,
      heartbeatSeconds: config.heartbeatSeconds,
      retentionSeconds: RETENTION_SECONDS,
      deleteAfterSeconds: COMPLETED_RETENTION_SECONDS,
      deadLetter,
      notify: true,
    };
  }

  /** The dead-letter queue of `queue`, checked to exist, with a clear error when it does not. */
  async function existingDeadLetterQueue(queue: string): Promise<string> {
    const deadLetters = deadLetterQueue(physicalName(namespace, queue));
    if ((await started().getQueue(deadLetters)) === null) {
      throw new Error(
        `there is no dead-letter queue ${deadLetters}: has a consumer of ${queue} ever started (and is EVENT_BUS_NAMESPACE right)?`,
      );
    }
    return deadLetters;
  }

  /** The dead-letter jobs of `queue` that `selection` names (by CloudEvent id, or pg-boss job id). */
  async function selectedJobIds(queue: string, ids: readonly string[]): Promise<string[]> {
    const pgBoss = started();
    const deadLetters = await existingDeadLetterQueue(queue);
    const found = new Set<string>();
    for (const id of ids) {
      for (const job of await pgBoss.findJobs(deadLetters, { data: { id }, queued: true, limit: PAGE })) {
        found.add(job.id);
      }
      if (UUID.test(id)) {
        for (const job of await pgBoss.findJobs(deadLetters, { id, queued: true })) found.add(job.id);
      }
    }
    return [...found];
  }

  async function consume(spec: QueueConsumer): Promise<void> {
    const pgBoss = started();
    const queue = physicalName(namespace, spec.queue);
    const deadLetters = deadLetterQueue(queue);
    await pgBoss.createQueue(deadLetters, { retentionSeconds: RETENTION_SECONDS });
    const settings = queueOptions(deadLetters);
    await pgBoss.createQueue(queue, settings);
    // createQueue leaves an existing queue as it was: bring its settings up to date.
    await pgBoss.updateQueue(queue, settings);
    for (const type of spec.eventTypes) await pgBoss.subscribe(type, queue);
    const handleJob = async (job: Job<unknown>): Promise<JobResult> => {
      const attempt = job.retryCount + 1;
      let received: Received;
      try {
        received = { ok: true, event: fromStructuredCloudEvent(job.data), attempt };
      } catch (error) {
        received = { ok: false, error: asError(error), attempt, messageId: job.id };
      }
      const decision = await spec.handle(received);
      if (decision.outcome === "ack") return { id: job.id, status: "completed" };
      return {
        id: job.id,
        status: decision.outcome === "retry" ? "failed" : "deadletter",
        output: { message: decision.error },
      };
    };
    await pgBoss.work(
      queue,
      {
        // Each worker fetches two jobs and runs them one after the other, so no more than
        // `concurrency` handlers run at once. Two, not one, because pg-boss keeps fetching without
        // a pause only while fetches come back full (burstWhenBatchFull, ignored at a batch of 1):
        // with one job per fetch a worker took one job per polling interval once the NOTIFY that
        // woke it was spent, so a backlog drained at `concurrency` jobs per 2 s (the Catalog's
        // 426 first-start events took 40 s to reach Inventory, and checkouts waited behind them:
        // docs/events.md, "Draining a backlog"). Two, not more, so a slow handler holds back at
        // most one job behind it.
        localConcurrency: config.concurrency,
        batchSize: 2,
        burstWhenBatchFull: true,
        perJobResults: true,
        // NOTIFY wakes a worker for a new job, not for a retry coming due: a retry runs up to
        // this long after its backoff ends.
        pollingIntervalSeconds: 2,
        notifyPollingIntervalSeconds: 2,
      },
      async (jobs): Promise<JobResult[]> => {
        const results: JobResult[] = [];
        for (const job of jobs) results.push(await handleJob(job));
        return results;
      },
    );
    working.push(queue);
  }

  return {
    name: "postgres",

    async start() {
      if (config.busDatabaseUrl === undefined) {
        throw new Error("EVENT_BUS_DATABASE_URL must be set when EVENT_BUS=postgres");
      }
      // Expired and silent jobs are found by the supervisor, twice per heartbeat period.
      const superviseSeconds = Math.max(1, Math.floor(config.heartbeatSeconds / 2));
      const pgBoss = new PgBoss({
        connectionString: config.busDatabaseUrl,
        max: config.poolSize,
        application_name: `${options.service} (obfy events)`,
        schema: SCHEMA,
        useListenNotify: true,
        schedule: false,
        supervise: true,
        superviseIntervalSeconds: superviseSeconds,
        monitorIntervalSeconds: superviseSeconds,
        // The kit traces deliveries itself, continuing the CloudEvent's traceparent.
        openTelemetry: { enabled: false },
        instanceName: options.service,
      });
      pgBoss.on("error", (error) => logger.warn({ err: error }, "pg-boss error"));
      pgBoss.on("warning", (warning) => logger.warn({ warning }, "pg-boss warning"));
      try {
        await pgBoss.start();
      } catch (error) {
        throw new Error(`the event bus database (EVENT_BUS_DATABASE_URL) is not reachable: ${asError(error).message}`, {
          cause: error,
        });
      }
      boss = pgBoss;
    },

    async publish(messages) {
      const pgBoss = started();
      return Promise.all(
        messages.map(async (message) => {
          const data = toStructuredCloudEvent(message.event);
          try {
            if (message.queue === undefined) {
              await pgBoss.publish(message.event.type, data);
            } else {
              const id = await pgBoss.send(physicalName(namespace, message.queue), data);
              if (id === null) return new Error(`pg-boss did not create a job for task ${message.event.type}`);
            }
            return undefined;
          } catch (error) {
            const failure = asError(error);
            if ((error as { code?: unknown }).code === "PGBOSS_QUEUE_NOT_FOUND") {
              return new Error(
                `no queue ${physicalName(namespace, message.queue ?? "")} for task ${message.event.type} yet (has its worker ever started?)`,
                { cause: failure },
              );
            }
            return failure;
          }
        }),
      );
    },

    consume,

    async stopConsuming() {
      const pgBoss = boss;
      if (pgBoss === undefined) return;
      await Promise.all(working.splice(0).map((queue) => pgBoss.offWork(queue, { wait: true })));
    },

    async listDeadLetters(queue, limit) {
      const deadLetters = await existingDeadLetterQueue(queue);
      const jobs = await started().findJobs(deadLetters, { queued: true, limit });
      return jobs.map((job) => describeDeadLetter(queue, job));
    },

    async countDeadLetters(queue) {
      // pg-boss's queue counts are cached for up to a minute; an operator wants the count now.
      const pgBoss = started();
      const deadLetters = await existingDeadLetterQueue(queue);
      let count = 0;
      let after: string | undefined;
      for (;;) {
        const page = await pgBoss.findJobs(deadLetters, { queued: true, limit: PAGE, ...(after ? { after } : {}) });
        count += page.length;
        if (page.length < PAGE) return count;
        after = page[page.length - 1]?.id;
      }
    },

    async replayDeadLetters(queue, selection: DeadLetterSelection) {
      const pgBoss = started();
      const deadLetters = await existingDeadLetterQueue(queue);
      if ("all" in selection) {
        let total = 0;
        for (;;) {
          const moved = await pgBoss.redrive(deadLetters, { limit: PAGE });
          total += moved;
          if (moved < PAGE) return total;
        }
      }
      const ids = await selectedJobIds(queue, selection.ids);
      if (ids.length === 0) return 0;
      return pgBoss.redrive(deadLetters, { ids, limit: ids.length });
    },

    async discardDeadLetters(queue, selection: DeadLetterSelection) {
      const pgBoss = started();
      const deadLetters = await existingDeadLetterQueue(queue);
      if ("all" in selection) return pgBoss.deleteQueuedJobs(deadLetters);
      const ids = await selectedJobIds(queue, selection.ids);
      if (ids.length > 0) await pgBoss.deleteJob(deadLetters, ids);
      return ids.length;
    },

    async close() {
      const pgBoss = boss;
      if (pgBoss === undefined) return;
      await this.stopConsuming();
      await pgBoss.stop({ graceful: true, close: true, timeout: 30_000 });
      boss = undefined;
    },
  };
}
