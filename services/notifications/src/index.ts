// The Notifications service's definition and the pieces its tests and tools use.
export { notificationsService } from "./app.js";
