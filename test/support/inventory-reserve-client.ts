// One OS process of the oversell test: its own gRPC client (and channels) to the given Inventory
// replicas, firing all its ReserveStock calls at once once told to start (a "go" line on stdin
// would need a pipe; the start time comes as an argument instead), then printing what happened.
//   node --conditions=source --import tsx test/support/inventory-reserve-client.ts \
//     <targets,comma-separated> <book id> <calls> <key prefix> <start at epoch ms>
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { inventoryV1 } from "@obfy/protos";

const [targetList = "", bookId = "", callsText = "0", prefix = "", startAtText = "0"] = process.argv.slice(2);
const logger = createLogger({ name: "reserve-client", level: "silent" });
const clients = targetList
  .split(",")
  .map((target) => createClient(inventoryV1.InventoryServiceService, target, { logger, defaultTimeoutMs: 20_000 }));
await Promise.all(clients.map((c) => c.waitForReady(Date.now() + 20_000)));
const wait = Number(startAtText) - Date.now();
if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

const outcomes = await Promise.all(
  Array.from({ length: Number(callsText) }, async (_, i) => {
    const client = clients[i % clients.length];
    if (client === undefined) throw new Error("no target");
    try {
      await client.reserveStock({ reservationKey: `${prefix}-${i}`, lines: [{ bookId, quantity: 1 }] });
      return "reserved";
    } catch (error) {
      if (
        error instanceof ClientError &&
        error.codeName === "FAILED_PRECONDITION" &&
        error.details === "Not enough stock"
      ) {
        return "short";
      }
      return `other: ${error instanceof Error ? error.message : String(error)}`;
    }
  }),
);
for (const client of clients) client.close();
process.stdout.write(
  `${JSON.stringify({
    pid: process.pid,
    reserved: outcomes.filter((o) => o === "reserved").length,
    short: outcomes.filter((o) => o === "short").length,
    other: outcomes.filter((o) => o !== "reserved" && o !== "short"),
  })}\n`,
);
