import { runService } from "@obfy/kit/service";
import { inventoryService } from "./app.js";

await runService(inventoryService);
