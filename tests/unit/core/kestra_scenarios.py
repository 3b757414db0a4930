"""Flows written for the scenarios of Kestra's RuntimeLabelsTest and SLATestCase (the
conformance runner, bench/kestra_conformance.py, runs Kestra's own files): the tests
hold without a Kestra checkout."""

from __future__ import annotations

NAMESPACE = "io.kestra.tests"
LABELS = "io.kestra.plugin.core.execution.Labels"

SCENARIOS: dict[str, str] = {
    "labels-update-task": f"""
id: labels-update-task
namespace: {NAMESPACE}
labels:
  flowLabelKey: flowLabelValue
  overriddenFlowLabelKey: flowValueThatWillGetOverridden
inputs:
  - {{id: labelsJson, type: JSON}}
  - {{id: labelsMapKey, type: STRING}}
  - {{id: labelsMapValue, type: STRING}}
  - {{id: labelsListKey, type: STRING}}
  - {{id: labelsListValue, type: STRING}}
tasks:
  - id: from-render
    type: {LABELS}
    labels: "{{{{ inputs.labelsJson }}}}"
  - id: from-map
    type: {LABELS}
    labels:
      "{{{{ inputs.labelsMapKey }}}}": "{{{{ inputs.labelsMapValue }}}}"
  - id: from-list
    type: {LABELS}
    labels:
      - key: "{{{{ inputs.labelsListKey }}}}"
        value: "{{{{ inputs.labelsListValue }}}}"
  - id: override-labels
    type: {LABELS}
    labels:
      overriddenFlowLabelKey: "{{{{ flow.namespace ~ '.' ~ flow.id }}}}"
      overriddenExecutionLabelKey: "{{{{ taskrun.id }}}}"
""",
    "npe-labels-update-task": f"""
id: npe-labels-update-task
namespace: {NAMESPACE}
tasks:
  - id: labels
    type: {LABELS}
    labels:
      someLabel: "{{{{ taskrun.id }}}}"
""",
    "primitive-labels-flow": f"""
id: primitive-labels-flow
namespace: {NAMESPACE}
inputs:
  - {{id: intLabel, type: INT}}
  - {{id: floatLabel, type: FLOAT}}
  - {{id: boolLabel, type: BOOLEAN}}
tasks:
  - id: update-labels
    type: {LABELS}
    labels:
      intValue: "{{{{ inputs.intLabel }}}}"
      floatValue: "{{{{ inputs.floatLabel }}}}"
      boolValue: "{{{{ inputs.boolLabel }}}}"
      taskRunId: "{{{{ taskrun.id }}}}"
""",
    "sla-max-duration-fail": f"""
id: sla-max-duration-fail
namespace: {NAMESPACE}
sla:
  - {{id: maxDuration, type: MAX_DURATION, behavior: FAIL, duration: PT0.5S}}
tasks:
  - {{id: sleep, type: io.kestra.plugin.core.flow.Sleep, duration: PT2S}}
""",
    "sla-max-duration-ok": f"""
id: sla-max-duration-ok
namespace: {NAMESPACE}
sla:
  - {{id: maxDuration, type: MAX_DURATION, behavior: FAIL, duration: PT10S}}
tasks:
  - {{id: sleep, type: io.kestra.plugin.core.flow.Sleep, duration: PT0.5S}}
""",
    "sla-execution-condition": f"""
id: sla-execution-condition
namespace: {NAMESPACE}
inputs:
  - {{id: string, type: SELECT, values: [PASS, CANCEL, LABEL], defaults: PASS}}
sla:
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: CANCEL
    assert: "{{{{ inputs.string != 'CANCEL' }}}}"
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{{{ inputs.string != 'LABEL' }}}}"
    labels:
      sla: violated
tasks:
  - {{id: return, type: io.kestra.plugin.core.debug.Return, format: "true"}}
""",
}
