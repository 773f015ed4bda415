// Events per second through each transport, end to end: producers commit a state change and its
// event (one per transaction, through the outbox), the relay publishes, the broker delivers, an
// idempotent consumer applies the effect in its own transaction. Not a test: a measurement.
//
//   npx node --conditions=source --import tsx packages/kit/src/events/bench/throughput.ts
//
// EVENTS (default 5000), PRODUCERS (concurrent producing transactions, default 16),
// EVENT_BUS_CONCURRENCY (consumer handlers at once, default 16), TRANSPORTS (default postgres,amqp).
// Needs the machine's PostgreSQL and RabbitMQ; everything runs in this one process.
import { performance } from "node:perf_hooks";
import { kitTestingEventsV1 } from "@obfy/protos";
import { sql } from "kysely";
import type { EventTransportName } from "../config.js";
import { createHarness } from "../fixtures/harness.js";

const events = Number(process.env.EVENTS ?? "5000");
const producers = Number(process.env.PRODUCERS ?? "16");
const consumerConcurrency = process.env.EVENT_BUS_CONCURRENCY ?? "16";
const transports = (process.env.TRANSPORTS ?? "postgres,amqp").split(",") as EventTransportName[];

interface Result {
  transport: EventTransportName;
  seconds: number;
  produceSeconds: number;
  relaySeconds: number;
  p50: number;
  p99: number;
}

async function measure(transport: EventTransportName): Promise<Result> {
  const harness = await createHarness(transport);
  try {
    const env = { EVENT_BUS_CONCURRENCY: consumerConcurrency, EVENT_BUS_POOL_SIZE: "10" };
    const producerDb = await harness.database({ max: producers + 4 });
    const consumerDb = await harness.database({ max: Number(consumerConcurrency) + 4 });
    const consumer = harness
      .bus({ service: "bench-ledger", database: consumerDb, relay: false, env })
      .subscribe(kitTestingEventsV1.CounterIncremented, async (event, trx) => {
        await trx
          .insertInto("effects")
          .values({
            consumer: "bench-ledger",
            replica: "1",
            event_id: event.id,
            type: event.type,
            sequence: event.data.sequence,
            amount: event.data.amount,
            note: event.data.note,
            attempt: event.attempt,
          })
          .execute();
      });
    await consumer.start();
    const producer = harness.bus({ service: "bench-shop", database: producerDb, listen: producerDb.pool, env });
    await producer.start();

    const started = performance.now();
    let next = 1;
    await Promise.all(
      Array.from({ length: producers }, async () => {
        for (let sequence = next++; sequence <= events; sequence = next++) {
          await producerDb.db.transaction().execute(async (trx) => {
            await trx.insertInto("counter_changes").values({ sequence, counter_id: "c1", amount: 1 }).execute();
            await producer.publish(trx, kitTestingEventsV1.CounterIncremented, {
              counterId: "c1",
              amount: 1,
              sequence,
              note: "",
            });
          });
        }
      }),
    );
    const produced = performance.now();
    const deadline = Date.now() + 600_000;
    let relayed = 0;
    for (;;) {
      if (relayed === 0) {
        const unsent = await sql<{ n: string }>`select count(*) as n from outbox where sent_at is null`.execute(
          producerDb.db,
        );
        if (Number(unsent.rows[0]?.n) === 0) relayed = performance.now();
      }
      const { rows } = await sql<{ n: string }>`select count(*) as n from effects`.execute(consumerDb.db);
      if (Number(rows[0]?.n) >= events) break;
      if (Date.now() > deadline) throw new Error(`only ${rows[0]?.n} of ${events} effects after 10 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const finished = performance.now();
    // Commit-to-effect latency, both clocks being this machine's.
    const times = await producerDb.db.selectFrom("outbox").select(["event_id", "created_at"]).execute();
    const created = new Map(times.map((row) => [row.event_id, row.created_at.getTime()]));
    const applied = await consumerDb.db.selectFrom("effects").select(["event_id", "applied_at"]).execute();
    const latencies = applied
      .map((row) => row.applied_at.getTime() - (created.get(row.event_id) ?? row.applied_at.getTime()))
      .sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      transport,
      seconds: (finished - started) / 1000,
      produceSeconds: (produced - started) / 1000,
      relaySeconds: ((relayed || finished) - started) / 1000,
      p50: at(0.5),
      p99: at(0.99),
    };
  } finally {
    await harness.cleanup();
  }
}

const results: Result[] = [];
for (const transport of transports) results.push(await measure(transport));
process.stdout.write(
  `\n${events} events, ${producers} producing transactions at once, ${consumerConcurrency} handlers at once, one process\n\n`,
);
process.stdout.write(
  "| transport | end to end, events/s | commits/s (producers) | relayed/s (outbox → broker) | commit→effect p50 | p99 |\n",
);
process.stdout.write("| --- | ---: | ---: | ---: | ---: | ---: |\n");
for (const result of results) {
  process.stdout.write(
    `| ${result.transport} | ${Math.round(events / result.seconds)} | ${Math.round(events / result.produceSeconds)} | ${Math.round(events / result.relaySeconds)} | ${result.p50} ms | ${result.p99} ms |\n`,
  );
}
