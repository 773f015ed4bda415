/**
 * The operators' live dashboard, mounted on an admin (metrics) server. Import from
 * `@obfy/kit/dashboard`.
 * @packageDocumentation
 */
export {
  type CreateDashboardOptions,
  createDashboard,
  type Dashboard,
  type DashboardSummary,
  type DashboardTarget,
  type TargetSummary,
} from "./create-dashboard.js";
export { type ChartPoint, histogramQuantile, type SeriesKind, type SeriesStats } from "./dashboard-model.js";
