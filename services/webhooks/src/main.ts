import { runService } from "@obfy/kit/service";
import { webhooksService } from "./app.js";

await runService(webhooksService);
