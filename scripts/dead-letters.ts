// Lists, counts, replays and discards dead letters on the configured event bus (EVENT_BUS,
// AMQP_URL, EVENT_BUS_DATABASE_URL, EVENT_BUS_NAMESPACE). See docs/events.md.
//   npm run dead-letters -- list <queue> [--limit N] [--json]
//   npm run dead-letters -- count <queue>
//   npm run dead-letters -- replay <queue> (<id>... | --all)
//   npm run dead-letters -- discard <queue> (<id>... | --all)
// <queue> is a subscribing service's name (e.g. orders) or a task type (its full protobuf name).
import { parseArgs } from "node:util";
import { createLogger } from "@obfy/kit/core";
import { type DeadLetter, type DeadLetterSelection, openDeadLetters, readEventBusConfig } from "@obfy/kit/events";

const HELP = `Usage: npm run dead-letters -- <command> <queue> [options]

Commands:
  list <queue> [--limit N] [--json]   the oldest N (default 100) dead letters of <queue>
  count <queue>                       how many dead letters <queue> holds
  replay <queue> <id>... | --all      put them back on <queue>, with a fresh attempt count
  discard <queue> <id>... | --all     delete them for good

<queue> is a subscribing service's name (e.g. orders) or a task type (its full protobuf name);
an <id> is the CloudEvent id that list shows. The bus comes from EVENT_BUS, AMQP_URL,
EVENT_BUS_DATABASE_URL and EVENT_BUS_NAMESPACE, as the services read them.`;

function usage(message: string): never {
  process.stderr.write(`dead-letters: ${message}\n\n${HELP}\n`);
  process.exit(2);
}

function row(letter: DeadLetter): string {
  return [
    letter.id,
    letter.type ?? "(unreadable)",
    letter.subject ?? "-",
    `attempts=${letter.attempts ?? "?"}`,
    letter.deadLetteredAt?.toISOString() ?? "-",
    letter.error ?? "",
  ].join("\t");
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      limit: { type: "string" },
      all: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
try {
  parsed = parse();
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
const [command, queue, ...ids] = positionals;
if (command === undefined) usage("give a command");
if (!["list", "count", "replay", "discard"].includes(command)) usage(`unknown command ${JSON.stringify(command)}`);
if (queue === undefined || queue === "") usage(`${command} needs a queue`);
const limit = values.limit === undefined ? undefined : Number(values.limit);
if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
  usage(`--limit must be a positive integer, got ${values.limit}`);
let selection: DeadLetterSelection | undefined;
if (command === "replay" || command === "discard") {
  if (values.all && ids.length > 0) usage("give ids or --all, not both");
  if (!values.all && ids.length === 0) usage(`${command} needs ids, or --all`);
  selection = values.all ? { all: true } : { ids };
}

let config: ReturnType<typeof readEventBusConfig>;
try {
  config = readEventBusConfig();
} catch (error) {
  process.stderr.write(`dead-letters: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
const logger = createLogger({ name: "dead-letters", level: process.env.LOG_LEVEL ?? "error" });
let admin: Awaited<ReturnType<typeof openDeadLetters>> | undefined;
try {
  admin = await openDeadLetters({ config, logger });
  if (command === "list") {
    const letters = await admin.list(queue, limit === undefined ? {} : { limit });
    if (values.json) {
      for (const letter of letters) process.stdout.write(`${JSON.stringify(letter)}\n`);
    } else {
      const total = await admin.count(queue);
      process.stdout.write(`${letters.length} of ${total} dead letters of ${queue} (${config.transport})\n`);
      for (const letter of letters) process.stdout.write(`${row(letter)}\n`);
    }
  } else if (command === "count") {
    process.stdout.write(`${await admin.count(queue)}\n`);
  } else if (command === "replay") {
    process.stdout.write(`replayed ${await admin.replay(queue, selection as DeadLetterSelection)}\n`);
  } else {
    process.stdout.write(`discarded ${await admin.discard(queue, selection as DeadLetterSelection)}\n`);
  }
} catch (error) {
  process.stderr.write(`dead-letters: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await admin?.close().catch(() => {});
}
