// Every SQL injection string of @obfy/kit/db/testing through the text field of a real gRPC
// service backed by a real database: each is stored and read back exactly, or refused with
// INVALID_ARGUMENT; nothing else happens to the database.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { sql } from "kysely";
import { readServerConfig } from "../config.js";
import { Unimplemented } from "../errors.js";
import { createServer, type KitServer } from "../server/create-server.js";
import { defineService } from "../server/service.js";
import { readDatabaseConfig } from "./config.js";
import { createDatabase, type Database } from "./create-database.js";
import { type Bookshop, captureLogs, secondRelease } from "./fixtures/bookshop.js";
import { createTestDatabase, INJECTION_STRINGS, injectionCases } from "./testing.js";

describe("injectionCases", () => {
  it("puts each string in each text field, nested and repeated ones too, leaving the rest as it was", () => {
    const sample = { title: "t", author: { name: "n", born: 1859 }, tags: ["a", "b"], isbn: new Uint8Array([1]) };
    const cases = injectionCases(sample, ["X", "Y"]);
    assert.deepEqual([...new Set(cases.map((c) => c.path))], ["title", "author.name", "tags[0]", "tags[1]"]);
    assert.equal(cases.length, 8);
    const tag = cases.find((c) => c.path === "tags[1]" && c.value === "Y");
    assert.deepEqual(tag?.request, {
      title: "t",
      author: { name: "n", born: 1859 },
      tags: ["a", "Y"],
      isbn: sample.isbn,
    });
    assert.equal(sample.tags[1], "b", "the sample is not changed");
    assert.throws(() => injectionCases({ n: 1 }), /no text field/);
  });
});

describe("injection strings through a service", () => {
  let database: Database<Bookshop>;
  let server: KitServer;
  let client: dummyV1.DummyServiceClient;
  const logs = captureLogs("info");

  before(async () => {
    const testDatabase = await createTestDatabase();
    database = createDatabase<Bookshop>({
      config: readDatabaseConfig(testDatabase.env, { name: "shop" }),
      logger: logs.logger,
      migrations: [secondRelease],
    });
    await database.migrate();
    await sql`create table canary (id int primary key)`.execute(database.kysely);
    await sql`insert into canary values (1)`.execute(database.kysely);
    const unimplemented = () => {
      throw new Unimplemented("not in this test");
    };
    server = createServer({
      services: [
        defineService(dummyV1.DummyServiceService, {
          // Stores the input as a title, finds it again by it, returns what was found.
          async execute(request) {
            const { id } = await database.kysely
              .insertInto("books")
              .values({ title: request.input })
              .returning("id")
              .executeTakeFirstOrThrow();
            const found = await database.kysely
              .selectFrom("books")
              .select(["id", "title"])
              .where("title", "=", request.input)
              .where("id", "=", id)
              .executeTakeFirst();
            return { output: found?.title ?? "(not found again)" };
          },
          executeServerStream: unimplemented,
          executeClientStream: unimplemented,
          executeClientServerStream: unimplemented,
        }),
      ],
      interceptors: [database.errorInterceptor],
      config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 1 }),
      logger: logs.logger,
    });
    const { port } = await server.listen();
    client = new dummyV1.DummyServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await server?.shutdown();
    await database?.close();
  });

  it("stores and returns each exactly, or refuses it with INVALID_ARGUMENT; the database is untouched", async () => {
    const outcomes: string[] = [];
    for (const { value, request } of injectionCases<dummyV1.DummyRequest>({ input: "sample" })) {
      const result = await new Promise<{ output?: string; error?: ServiceError }>((resolve) => {
        client.execute(request, new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
          resolve(error ? { error } : { output: response.output }),
        );
      });
      if (result.error === undefined) {
        assert.equal(result.output, value, `round trip of ${JSON.stringify(value.slice(0, 40))}`);
        outcomes.push("stored");
      } else {
        assert.equal(result.error.code, status.INVALID_ARGUMENT, `${JSON.stringify(value)}: ${result.error.details}`);
        assert.ok(value.includes("\0"), `only a NUL byte is refused, not ${JSON.stringify(value)}`);
        assert.match(result.error.details, /cannot be stored/);
        outcomes.push("refused");
      }
    }
    assert.equal(outcomes.length, INJECTION_STRINGS.length);
    assert.equal(outcomes.filter((o) => o === "refused").length, 2, "the two strings holding NUL");

    const stored = await database.kysely
      .selectFrom("books")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .executeTakeFirst();
    assert.equal(Number(stored?.n), INJECTION_STRINGS.length - 2);
    const canary = await sql<{ id: number }>`select id from canary`.execute(database.kysely);
    assert.deepEqual(canary.rows, [{ id: 1 }]);
    const tables = await sql<{ name: string }>`
      select tablename as name from pg_tables where schemaname = 'public' order by tablename`.execute(database.kysely);
    assert.deepEqual(
      tables.rows.map((row) => row.name),
      ["books", "canary", "kysely_migration_bookshop", "kysely_migration_lock"],
    );
    assert.deepEqual(
      logs.lines.filter((line) => line.level >= 50),
      [],
      "no INTERNAL error on the way",
    );
  });
});
