// Completions for the flow editor from the flow JSON Schema that `lanner schema flow`
// prints (generated into src/generated/flow-schema.json at build time): task and trigger
// types, the flow's keys, and the keys of the task type being written.
import type { Completion } from "@codemirror/autocomplete";

interface JsonSchema {
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  oneOf?: { $ref?: string }[];
  enum?: unknown[];
  description?: string;
}

export interface FlowCompletions {
  types: Completion[];
  flowKeys: Completion[];
  keysOfType: Map<string, Completion[]>;
}

function keys(schema: JsonSchema | undefined): Completion[] {
  return Object.entries(schema?.properties ?? {}).map(([name, prop]) => ({
    label: name,
    type: "property",
    info: prop.description,
    apply: `${name}: `,
  }));
}

export function completionsFrom(schema: JsonSchema): FlowCompletions {
  const defs = schema.$defs ?? {};
  const types: Completion[] = [];
  const keysOfType = new Map<string, Completion[]>();
  for (const spec of ["TaskSpec", "TriggerSpec"]) {
    for (const ref of defs[spec]?.oneOf ?? []) {
      const def = defs[(ref.$ref ?? "").split("/").pop() ?? ""];
      const names = (def?.properties?.type?.enum ?? []).map(String);
      const props = keys(def).filter((k) => k.label !== "type");
      for (const name of names) {
        keysOfType.set(name, props);
        // The full names are the ones Kestra users know; the short aliases still parse.
        if (name.includes("io.kestra")) {
          types.push({ label: name, type: spec === "TaskSpec" ? "class" : "event", info: def?.description });
        }
      }
    }
  }
  return { types, flowKeys: keys(schema), keysOfType };
}

/** What to complete at the end of `before` (the text of the document up to the cursor). */
export function completionContext(
  before: string,
): { kind: "type"; word: string } | { kind: "key"; word: string; indent: number; taskType: string | null } | null {
  const lines = before.split("\n");
  const line = lines[lines.length - 1] ?? "";
  const typeMatch = /^\s*(?:- )?type:\s*(\S*)$/.exec(line);
  if (typeMatch) return { kind: "type", word: typeMatch[1] ?? "" };
  const keyMatch = /^(\s*(?:- )?)([A-Za-z_]*)$/.exec(line);
  if (!keyMatch) return null;
  const indent = (keyMatch[1] ?? "").length;
  // The task being written: the nearest `type:` above at this indent, in the same item.
  let taskType: string | null = null;
  for (let i = lines.length - 2; i >= 0 && indent > 0; i--) {
    const above = lines[i] ?? "";
    const lead = /^(\s*(?:- )?)/.exec(above)?.[1]?.length ?? 0;
    if (above.trim() && lead < indent) {
      const here = /^\s*- type:\s*(\S+)/.exec(above);
      if (here) taskType = here[1] ?? null;
      break;
    }
    const found = /^\s*(?:- )?type:\s*(\S+)/.exec(above);
    if (found && lead === indent) {
      taskType = found[1] ?? null;
      if (above.trimStart().startsWith("- ")) break;
    }
    if (above.trimStart().startsWith("- ") && lead === indent) break;
  }
  return { kind: "key", word: keyMatch[2] ?? "", indent, taskType };
}
