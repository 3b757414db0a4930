import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { ApiError, type Execution } from "../src/api/client";
import ErrorBox from "../src/components/ErrorBox.vue";
import GanttChart from "../src/components/GanttChart.vue";
import TopologyGraph from "../src/components/TopologyGraph.vue";

function run(id: string, taskId: string, state: string, start: string, end: string | null, parent: string | null = null) {
  return {
    id, executionId: "e1", namespace: "a", flowId: "f", taskId, parentTaskRunId: parent, value: null, iteration: null,
    state: { current: state, histories: [{ state: "CREATED", date: start }], startDate: start, endDate: end, duration: null },
    attempts: [], outputs: {}, error: null, childExecutionId: null,
  };
}

const EXECUTION = {
  id: "e1", tenantId: "main", namespace: "a", flowId: "f", flowRevision: 1,
  state: { current: "RUNNING", histories: [], startDate: "2026-01-01T00:00:00Z", endDate: null, duration: null },
  inputs: {}, outputs: {}, labels: [], parentId: null, originalId: "e1", trigger: null, correlationId: null, error: null, seq: 5,
  taskRunList: [
    run("r1", "first", "SUCCESS", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"),
    run("r2", "loop", "RUNNING", "2026-01-01T00:00:05Z", null),
    run("r3", "inner", "RUNNING", "2026-01-01T00:00:06Z", null, "r2"),
  ],
} as unknown as Execution;

describe("GanttChart", () => {
  it("places each task run on the execution's span, children under their parent", () => {
    const now = Date.parse("2026-01-01T00:00:10Z");
    const wrapper = mount(GanttChart, { props: { execution: EXECUTION, now } });
    const rows = wrapper.findAll("[data-task]");
    expect(rows.map((r) => r.attributes("data-task"))).toEqual(["first", "loop", "inner"]);
    const bar = (task: string) => wrapper.find(`[data-task="${task}"] .gantt-bar`).attributes("style");
    expect(bar("first")).toContain("left: 0%");
    expect(bar("first")).toContain("width: 50%");
    expect(bar("loop")).toContain("left: 50%");
    expect(wrapper.attributes("data-state")).toBe("RUNNING");
  });
});

describe("ErrorBox", () => {
  it("shows the API's message and each flow problem with its line", () => {
    const error = new ApiError(422, "the flow is invalid (1 problem)", [{ path: "tasks[0].type", line: 8, message: "unknown task type" }]);
    const wrapper = mount(ErrorBox, { props: { error } });
    expect(wrapper.text()).toContain("the flow is invalid");
    expect(wrapper.text()).toContain("line 8: tasks[0].type unknown task type");
    expect(wrapper.attributes("role")).toBe("alert");
  });

  it("shows nothing without an error", () => {
    expect(mount(ErrorBox, { props: { error: null } }).text()).toBe("");
  });
});

describe("TopologyGraph", () => {
  it("draws parallel branches side by side and says when the YAML does not parse", () => {
    const source = "tasks:\n  - id: p\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: a\n        type: x.Log\n      - id: b\n        type: x.Log\n";
    const wrapper = mount(TopologyGraph, { props: { source } });
    expect(wrapper.find(".topo-children.parallel").text()).toContain("a");
    expect(wrapper.find(".topo-children.parallel").text()).toContain("b");
    expect(mount(TopologyGraph, { props: { source: "tasks: [" } }).text()).toContain("does not parse");
  });
});
