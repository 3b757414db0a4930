// Reading a flow's YAML in the browser: its typed inputs (for the Execute form) and its
// task tree (for the topology graph). The API validates; this only reads what parses.
import { parse } from "yaml";

export interface FlowInput {
  id: string;
  type: string;
  required: boolean;
  defaults?: unknown;
  description?: string;
  values?: string[];
}

export interface TaskNode {
  id: string;
  type: string;
  // Which block of its parent the task is in: tasks, errors, finally, then, else, a case...
  block: string;
  children: TaskNode[];
  // Children run side by side (Parallel, ForEach with concurrency, ...).
  parallel: boolean;
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseFlow(source: string): Obj | null {
  try {
    const doc: unknown = parse(source);
    return isObj(doc) ? doc : null;
  } catch {
    return null;
  }
}

export function flowInputs(source: string): FlowInput[] {
  const doc = parseFlow(source);
  const inputs = Array.isArray(doc?.inputs) ? doc.inputs : [];
  return inputs.filter(isObj).map((raw) => ({
    id: String(raw.id ?? raw.name ?? ""),
    type: String(raw.type ?? "STRING").toUpperCase(),
    required: raw.required !== false && raw.defaults === undefined,
    defaults: raw.defaults,
    description: typeof raw.description === "string" ? raw.description : undefined,
    values: Array.isArray(raw.values) ? raw.values.map(String) : undefined,
  }));
}

/** A value typed into the form, as the input's type wants it; an error message if not. */
export function coerceInput(input: FlowInput, raw: unknown): { value?: unknown; error?: string } {
  if (raw instanceof File) return { value: raw };
  const text = raw === undefined || raw === null ? "" : String(raw);
  if (text === "") {
    return input.required ? { error: `${input.id} is required` } : { value: undefined };
  }
  switch (input.type) {
    case "INT": {
      if (!/^-?\d+$/.test(text.trim())) return { error: `${input.id} must be a whole number` };
      return { value: Number(text) };
    }
    case "FLOAT": {
      const n = Number(text);
      return Number.isFinite(n) ? { value: n } : { error: `${input.id} must be a number` };
    }
    case "BOOLEAN":
    case "BOOL":
      return { value: text === "true" };
    case "JSON":
    case "ARRAY":
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return { error: `${input.id} must be JSON` };
      }
    case "SELECT":
    case "ENUM":
      if (input.values && !input.values.includes(text)) {
        return { error: `${input.id} must be one of ${input.values.join(", ")}` };
      }
      return { value: text };
    default:
      return { value: text };
  }
}

const CHILD_BLOCKS = ["tasks", "then", "else", "errors", "finally", "_cases"];
const PARALLEL_TYPES = /(\.Parallel|\.ForEach|\.EachParallel|\.AllowFailure|\.Dag)$/;

function taskNodes(list: unknown, block: string): TaskNode[] {
  if (!Array.isArray(list)) return [];
  return list.filter(isObj).map((raw) => {
    const children: TaskNode[] = [];
    for (const key of CHILD_BLOCKS) children.push(...taskNodes(raw[key], key));
    if (isObj(raw.cases)) {
      for (const [name, tasks] of Object.entries(raw.cases)) children.push(...taskNodes(tasks, `case ${name}`));
    }
    const type = String(raw.type ?? "");
    const parallel = PARALLEL_TYPES.test(type) && (type.endsWith(".Parallel") || raw.concurrencyLimit !== 1);
    return { id: String(raw.id ?? "?"), type, block, children, parallel };
  });
}

/** The flow's tasks as a tree, the flow's own errors and finally blocks included. */
export function taskTree(source: string): TaskNode[] {
  const doc = parseFlow(source);
  if (!doc) return [];
  return [
    ...taskNodes(doc.tasks, "tasks"),
    ...taskNodes(doc.errors, "errors"),
    ...taskNodes(doc.finally, "finally"),
  ];
}

/** The short name of a task type: io.kestra.plugin.core.log.Log -> log.Log */
export function shortType(type: string): string {
  return type.split(".").slice(-2).join(".");
}
