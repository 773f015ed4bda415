import assert from "node:assert/strict";
import { it } from "node:test";
import { statementName } from "./statement-name.js";

it("names a statement by its operation and first table, from the SQL text alone", () => {
  const cases: [string, string][] = [
    ['select "id", "title" from "books" where "id" = $1', "select books"],
    ['insert into "books" ("title") values ($1) returning "id"', "insert books"],
    ['update "books" set "price_cents" = $1 where "id" = $2', "update books"],
    ['delete from "public"."outbox" where "id" = $1', "delete public.outbox"],
    ['with "x" as (select 1) select * from "x" join "books" on true', "with x"],
    ["begin", "begin"],
    ["start transaction isolation level serializable", "start"],
    ["commit", "commit"],
    ["select pg_sleep(0.1)", "select"],
    ['create table if not exists "kysely_migration_shop" ("name" varchar(255))', "create kysely_migration_shop"],
    ["(select 1) union (select 2)", "select"],
    ["VACUUM books", "other"],
  ];
  for (const [text, name] of cases) assert.equal(statementName(text).name, name, text);
  assert.deepEqual(statementName('select * from "Books"'), {
    operation: "select",
    table: "books",
    name: "select books",
  });
});
