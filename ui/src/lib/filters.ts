// The executions list's filters, kept in the URL's query so a view can be shared.
import type { LocationQuery, LocationQueryRaw } from "vue-router";

export interface ExecutionFilters {
  namespace: string;
  flowId: string;
  state: string[];
  labels: string[];
  startDate: string;
  endDate: string;
  q: string;
  page: number;
}

type QueryValue = LocationQuery[string] | undefined;

function one(value: QueryValue): string {
  const first = Array.isArray(value) ? value[0] : value;
  return first ?? "";
}

function many(value: QueryValue): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => !!v);
}

export function filtersFromQuery(query: LocationQuery): ExecutionFilters {
  const page = Number.parseInt(one(query.page), 10);
  return {
    namespace: one(query.namespace),
    flowId: one(query.flowId),
    state: many(query.state),
    labels: many(query.labels),
    startDate: one(query.startDate),
    endDate: one(query.endDate),
    q: one(query.q),
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

/** Only the filters that are set, so the URL stays short and readable. */
export function queryFromFilters(filters: ExecutionFilters): LocationQueryRaw {
  const query: LocationQueryRaw = {};
  if (filters.namespace) query.namespace = filters.namespace;
  if (filters.flowId) query.flowId = filters.flowId;
  if (filters.state.length) query.state = filters.state;
  if (filters.labels.length) query.labels = filters.labels;
  if (filters.startDate) query.startDate = filters.startDate;
  if (filters.endDate) query.endDate = filters.endDate;
  if (filters.q) query.q = filters.q;
  if (filters.page > 1) query.page = String(filters.page);
  return query;
}

/** A datetime-local value (browser's local time) as the ISO-8601 instant the API wants. */
export function isoFromLocal(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}
