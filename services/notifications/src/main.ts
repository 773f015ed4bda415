import { runService } from "@obfy/kit/service";
import { notificationsService } from "./app.js";

await runService(notificationsService);
