import { describe, expect, it } from "vitest";
import { parseSse } from "../src/api/sse";
import { completionContext, completionsFrom } from "../src/lib/flowSchema";
import { filtersFromQuery, queryFromFilters } from "../src/lib/filters";
import { coerceInput, flowInputs, taskTree } from "../src/lib/flowYaml";
import { namespaceTree } from "../src/lib/namespaces";
import flowSchema from "../src/generated/flow-schema.json";

const FLOW = `id: f
namespace: a.b
inputs:
  - id: count
    type: INT
  - id: name
    type: STRING
    defaults: x
  - id: mode
    type: SELECT
    values: [fast, slow]
tasks:
  - id: branch
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.log.Log
      - id: right
        type: io.kestra.plugin.core.log.Log
  - id: after
    type: io.kestra.plugin.core.debug.Return
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
`;

describe("flow YAML", () => {
  it("reads the typed inputs, required unless defaulted", () => {
    const inputs = flowInputs(FLOW);
    expect(inputs.map((i) => [i.id, i.type, i.required])).toEqual([
      ["count", "INT", true],
      ["name", "STRING", false],
      ["mode", "SELECT", true],
    ]);
    expect(inputs[2]?.values).toEqual(["fast", "slow"]);
  });

  it("checks a value against its input's type, as a user types it", () => {
    const [count, name, mode] = flowInputs(FLOW);
    expect(coerceInput(count!, "12")).toEqual({ value: 12 });
    expect(coerceInput(count!, "1.5").error).toContain("whole number");
    expect(coerceInput(count!, "").error).toContain("required");
    expect(coerceInput(name!, "")).toEqual({ value: undefined });
    expect(coerceInput(mode!, "medium").error).toContain("fast, slow");
  });

  it("builds the topology: nesting, parallel branches, errors and finally", () => {
    const tree = taskTree(FLOW);
    expect(tree.map((n) => [n.id, n.block])).toEqual([
      ["branch", "tasks"],
      ["after", "tasks"],
      ["alert", "errors"],
      ["cleanup", "finally"],
    ]);
    expect(tree[0]?.parallel).toBe(true);
    expect(tree[0]?.children.map((c) => c.id)).toEqual(["left", "right"]);
  });

  it("reads nothing from YAML that does not parse", () => {
    expect(taskTree("tasks: [")).toEqual([]);
    expect(flowInputs(": :")).toEqual([]);
  });
});

describe("executions filters", () => {
  it("round-trip through the URL, leaving unset ones out", () => {
    const filters = filtersFromQuery({ namespace: "a.b", state: ["FAILED", "KILLED"], page: "2" });
    expect(filters.state).toEqual(["FAILED", "KILLED"]);
    expect(filters.page).toBe(2);
    expect(queryFromFilters(filters)).toEqual({ namespace: "a.b", state: ["FAILED", "KILLED"], page: "2" });
    expect(filtersFromQuery({ page: "-3" }).page).toBe(1);
  });
});

describe("server-sent events", () => {
  it("split complete events and keep the unfinished rest", () => {
    const { events, rest } = parseSse('event: execution\nid: 3\ndata: {"a":1}\n\n: ping\n\nevent: end\ndata: {');
    expect(events).toEqual([{ event: "execution", id: "3", data: '{"a":1}' }]);
    expect(rest).toBe("event: end\ndata: {");
  });
});

describe("namespace tree", () => {
  it("nests namespaces under their parents and counts flows", () => {
    const tree = namespaceTree(["a.b", "a.b", "a.c.d", "z"]);
    expect(tree.map((n) => [n.name, n.flows])).toEqual([["a", 3], ["z", 1]]);
    expect(tree[0]?.children.map((n) => n.name)).toEqual(["a.b", "a.c"]);
  });
});

describe("editor completions from the flow schema", () => {
  const completions = completionsFrom(flowSchema as Parameters<typeof completionsFrom>[0]);

  it("offer every task type by its full name", () => {
    expect(completions.types.map((c) => c.label)).toContain("io.kestra.plugin.core.log.Log");
    expect(completions.flowKeys.map((c) => c.label)).toContain("tasks");
  });

  it("know whether a type, a flow key or a task's key is being written", () => {
    expect(completionContext("tasks:\n  - id: a\n    type: io.kes")).toEqual({ kind: "type", word: "io.kes" });
    expect(completionContext("names")).toMatchObject({ kind: "key", indent: 0, word: "names" });
    const inTask = completionContext("tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    mes");
    expect(inTask).toMatchObject({ kind: "key", word: "mes", taskType: "io.kestra.plugin.core.log.Log" });
    const keys = completions.keysOfType.get("io.kestra.plugin.core.log.Log")!.map((c) => c.label);
    expect(keys).toContain("message");
  });
});

describe("API errors", () => {
  it("keep the API's message and problems, and a 401 asks for a login", async () => {
    const { errorOf } = await import("../src/api/client");
    const { session } = await import("../src/api/session");
    session.needsLogin = false;
    const body = { message: "the API token is invalid or revoked" };
    const read = await errorOf(new Response(JSON.stringify(body), { status: 401 }), "x", body);
    expect(read.message).toBe("the API token is invalid or revoked");
    expect(session.needsLogin).toBe(true);
    const unread = await errorOf(new Response("gateway down", { status: 502, statusText: "Bad Gateway" }), "searching");
    expect(unread.message).toBe("gateway down");
    const empty = await errorOf(new Response("", { status: 500, statusText: "Oops" }), "searching");
    expect(empty.message).toBe("searching: HTTP 500 Oops");
  });
});
