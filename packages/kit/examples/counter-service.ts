// The "Write a new service" example of the root README: a table, an event and its consumer.
// README.md shows this file verbatim, and counter-service.test.ts runs it against PostgreSQL.
import { InvalidArgument, Unimplemented } from "@obfy/kit";
import { defineMigrations, type Kysely, sql } from "@obfy/kit/db";
import { defineService } from "@obfy/kit/server";
import { runService, type ServiceDefinition } from "@obfy/kit/service";
import { dummyV1, kitTestingEventsV1 } from "@obfy/protos";

// The tables, as Kysely sees them: the handler's and the consumer's.
interface CounterSchema {
  inputs: { input: string; created_at: Date };
  totals: { counter_id: string; amount: string };
}

// Forward-only migrations, applied at start under a lock (one replica applies each, once).
const migrations = defineMigrations("counter", {
  "0001-create-inputs-and-totals": {
    async up(db: Kysely<unknown>) {
      await sql`create table inputs (input text not null, created_at timestamptz not null default now())`.execute(db);
      await sql`create table totals (counter_id text primary key, amount bigint not null)`.execute(db);
    },
  },
});

const ANONYMOUS = ["/kit.testing.v1.DummyService/Execute"];

export const counterService: ServiceDefinition<CounterSchema> = {
  name: "counter",
  port: 50099,
  metricsPort: 9499,
  database: { migrations: [migrations] },
  events: true,
  anonymousMethods: ANONYMOUS,
  build({ database, bus }) {
    // The consumer: runs in the transaction that records the event's id, so a redelivery
    // changes nothing (effectively once).
    bus.subscribe(kitTestingEventsV1.CounterIncremented, async (event, trx) => {
      await trx
        .insertInto("totals")
        .values({ counter_id: event.data.counterId, amount: String(event.data.amount) })
        .onConflict((c) => c.column("counter_id").doUpdateSet({ amount: sql`totals.amount + excluded.amount` }))
        .execute();
    });
    // The example serves one method of the Dummy service; the streaming ones say so.
    const notHere = (): never => {
      throw new Unimplemented("The counter example serves Execute only");
    };
    const counter = defineService(dummyV1.DummyServiceService, {
      executeServerStream: notHere,
      executeClientStream: notHere,
      executeClientServerStream: notHere,
      async execute(request) {
        if (request.input === "") throw new InvalidArgument("input must not be empty");
        // The row and the event commit together (the outbox), or neither does.
        await database.transaction(async (trx) => {
          await trx.insertInto("inputs").values({ input: request.input, created_at: new Date() }).execute();
          await bus.publish(trx, kitTestingEventsV1.CounterIncremented, {
            counterId: "inputs",
            amount: 1,
            sequence: 0,
            note: request.input,
          });
        });
        const total = await database.kysely
          .selectFrom("totals")
          .select("amount")
          .where("counter_id", "=", "inputs")
          .executeTakeFirst();
        return { output: total?.amount ?? "0" };
      },
    });
    return { services: [counter] };
  },
};

// `node counter-service.ts`: DATABASE_URL, EVENT_BUS and the ports come from the environment.
if (import.meta.main) await runService(counterService);
