// The onboarding gallery: example flows an empty instance offers to deploy in one click.
// The flows are YAML files in src/examples/ (tests/unit/test_ui_examples.py validates each
// one as the API would).
import helloWorld from "../examples/hello_world.yml?raw";
import etlShellPython from "../examples/etl_shell_python.yml?raw";
import fanOut from "../examples/fan_out.yml?raw";
import subflowChild from "../examples/subflow_child.yml?raw";
import subflowParent from "../examples/subflow_parent.yml?raw";
import schedule from "../examples/schedule.yml?raw";
import webhook from "../examples/webhook.yml?raw";
import kafka from "../examples/kafka.yml?raw";

export interface Example {
  id: string;
  title: string;
  blurb: string;
  sources: string[]; // deployed in order (a subflow's child first)
}

export const EXAMPLES: Example[] = [
  {
    id: "hello_world",
    title: "Hello world",
    blurb: "A typed input and a log line.",
    sources: [helloWorld],
  },
  {
    id: "etl_shell_python",
    title: "ETL with shell and Python",
    blurb: "Extract with a shell command, transform in Python, load the result as an output.",
    sources: [etlShellPython],
  },
  {
    id: "fan_out",
    title: "Fan-out",
    blurb: "ForEach over regions, two at a time, with parallel reports in each.",
    sources: [fanOut],
  },
  {
    id: "subflow",
    title: "Subflow",
    blurb: "A parent starts a child flow, waits for it and uses its output.",
    sources: [subflowChild, subflowParent],
  },
  {
    id: "schedule",
    title: "Schedule",
    blurb: "Runs every hour on the hour (disabled until you enable its trigger).",
    sources: [schedule],
  },
  {
    id: "webhook",
    title: "Webhook",
    blurb: "Started by an HTTP call; answers with the flow's outputs.",
    sources: [webhook],
  },
  {
    id: "kafka",
    title: "Kafka-triggered",
    blurb: "One execution per record of a topic (disabled: point it at your cluster first).",
    sources: [kafka],
  },
];
