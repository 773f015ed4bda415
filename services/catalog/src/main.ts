import { runService } from "@obfy/kit/service";
import { catalogService } from "./app.js";

await runService(catalogService);
