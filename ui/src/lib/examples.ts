// The onboarding gallery: example flows an empty instance offers to deploy in one click.
export interface Example {
  id: string;
  title: string;
  blurb: string;
  sources: string[]; // deployed in order (a subflow's child first)
}

const NS = "examples";

export const EXAMPLES: Example[] = [
  {
    id: "hello_world",
    title: "Hello world",
    blurb: "A typed input and a log line.",
    sources: [`id: hello_world
namespace: ${NS}
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }}!"
`],
  },
  {
    id: "etl_shell_python",
    title: "ETL with shell and Python",
    blurb: "Extract with a shell command, transform in Python, load the result as an output.",
    sources: [`id: etl_shell_python
namespace: ${NS}
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    outputFiles: ["orders.csv"]
    commands:
      - printf 'id,amount\\n1,10\\n2,32\\n' > orders.csv
  - id: transform
    type: io.kestra.plugin.scripts.python.Script
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    inputFiles:
      orders.csv: "{{ outputs.extract.outputFiles['orders.csv'] }}"
    script: |
      import csv
      total = sum(int(r["amount"]) for r in csv.DictReader(open("orders.csv")))
      print(f"total={total}")
  - id: load
    type: io.kestra.plugin.core.log.Log
    message: "loaded"
`],
  },
  {
    id: "fan_out",
    title: "Fan-out",
    blurb: "ForEach over regions, two at a time, with parallel reports in each.",
    sources: [`id: fan_out
namespace: ${NS}
inputs:
  - id: regions
    type: ARRAY
    itemType: STRING
    defaults: ["emea", "amer", "apac"]
tasks:
  - id: per_region
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.regions }}"
    concurrencyLimit: 2
    tasks:
      - id: reports
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: sales
            type: io.kestra.plugin.core.debug.Return
            format: "sales-{{ taskrun.value }}"
          - id: stock
            type: io.kestra.plugin.core.debug.Return
            format: "stock-{{ taskrun.value }}"
`],
  },
  {
    id: "subflow",
    title: "Subflow",
    blurb: "A parent starts a child flow, waits for it and uses its output.",
    sources: [
      `id: double
namespace: ${NS}
inputs:
  - id: number
    type: INT
tasks:
  - id: double
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.number * 2 }}"
outputs:
  - id: doubled
    type: INT
    value: "{{ outputs.double.value }}"
`,
      `id: call_double
namespace: ${NS}
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: ${NS}
    flowId: double
    inputs:
      number: 21
    wait: true
    transmitFailed: true
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "The child answered {{ outputs.call.outputs.doubled }}"
`,
    ],
  },
  {
    id: "schedule",
    title: "Schedule",
    blurb: "Runs every hour on the hour (disabled until you enable its trigger).",
    sources: [`id: hourly
namespace: ${NS}
tasks:
  - id: tick
    type: io.kestra.plugin.core.log.Log
    message: "scheduled for {{ trigger.date }}"
triggers:
  - id: every_hour
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 * * * *"
    disabled: true
`],
  },
  {
    id: "webhook",
    title: "Webhook",
    blurb: "Started by an HTTP call; answers with the flow's outputs.",
    sources: [`id: on_push
namespace: ${NS}
tasks:
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.commits | length }} commits"
outputs:
  - id: summary
    type: STRING
    value: "{{ outputs.count.value }}"
triggers:
  - id: push
    type: io.kestra.plugin.core.trigger.Webhook
    key: change-me-to-a-long-random-key
    wait: true
    returnOutputs: true
`],
  },
  {
    id: "kafka",
    title: "Kafka-triggered",
    blurb: "One execution per record of a topic (disabled: point it at your cluster first).",
    sources: [`id: on_order
namespace: ${NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "order {{ trigger.key }} at offset {{ trigger.offset }}: {{ trigger.value }}"
triggers:
  - id: orders
    type: io.kestra.plugin.kafka.RealtimeTrigger
    topic: orders
    groupId: lanner-orders
    valueDeserializer: JSON
    disabled: true
    properties:
      bootstrap.servers: 127.0.0.1:9092
`],
  },
];
