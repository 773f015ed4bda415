// Several replicas start at once and migrate the same database: each migration is applied
// exactly once (Kysely's Migrator under its PostgreSQL advisory lock), the others find it done.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createTestDatabase } from "./testing.js";

const CHILD = fileURLToPath(new URL("./fixtures/migrate-child.ts", import.meta.url));
const REPLICAS = 4;

it(`applies each migration once when ${REPLICAS} processes migrate at the same moment`, async (t) => {
  const database = await createTestDatabase();
  const children = Array.from({ length: REPLICAS }, () => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", CHILD], {
      env: { ...process.env, ...database.env },
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = once(child, "exit").then(([code]) => code as number | null);
    return { child, lines, exited };
  });
  t.after(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill("SIGKILL");
  });
  const next = async (lines: AsyncIterator<string>): Promise<string> => {
    const line = await Promise.race([
      lines.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no line within 60 s")), 60_000).unref()),
    ]);
    if (line.done) throw new Error("the replica ended its output early");
    return line.value;
  };

  // Every replica connected and waiting: then all are told to go at once.
  for (const { lines } of children) assert.equal(await next(lines), "ready");
  for (const { child } of children) child.stdin.end("go\n");
  const reports = await Promise.all(children.map(async ({ lines }) => JSON.parse(await next(lines))));
  const codes = await Promise.all(children.map(({ exited }) => exited));

  assert.deepEqual(codes, Array(REPLICAS).fill(0), JSON.stringify(reports));
  const applied = reports.flatMap((report: { applied: string[] }) => report.applied).sort();
  assert.deepEqual(applied, ["race/0001-create-runs", "race/0002-second"], JSON.stringify(reports));
  assert.equal(
    reports.filter((report: { applied: string[] }) => report.applied.length > 0).length,
    1,
    "one replica applied both, in one transaction; the others waited for the lock and found nothing to do",
  );

  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  t.after(() => client.end());
  const runs = await client.query("select migration from migration_runs order by migration");
  assert.deepEqual(
    runs.rows.map((row) => row.migration),
    ["0001", "0002"],
  );
  const history = await client.query("select name from kysely_migration_race order by name");
  assert.deepEqual(
    history.rows.map((row) => row.name),
    ["0001-create-runs", "0002-second"],
  );
});
