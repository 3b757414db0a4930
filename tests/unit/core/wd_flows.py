"""Kestra's WorkingDirectory test flows, as test_working_directory.py runs them."""

# Kestra's test flows (core/src/test/resources/flows/valids), in namespace company.team.
FLOWS = {
    "working-directory.yaml": """\
id: working-directory
namespace: company.team

inputs:
  - id: failed
    type: STRING

tasks:
  - id: worker
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          out/stay.txt: "{{ inputs.failed == 'true' ? ko: taskrun.id }}"
      - id: second
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - out/*
      - id: disabled
        type: io.kestra.plugin.core.debug.Return
        disabled: true
    errors:
      - id: error-t1
        type: io.kestra.plugin.core.debug.Return
        format: "Error Trigger ! {{task.id}}"
  - id: 2_end
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.second.uris['out/stay.txt'] }}"
""",
    "working-directory-outputs.yml": """\
id: working-directory-outputs
namespace: company.team

tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    outputFiles:
      - output.txt
    tasks:
      - id: outputFiles
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          output.txt: "Hello World"
""",
    "working-directory-inputs.yml": """\
id: working-directory-inputs
namespace: company.team

tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      input.txt: Hello World
    tasks:
      - id: inputFiles
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - input.txt
""",
    "working-directory-cache.yml": """\
id: working-directory-cache
namespace: company.team

tasks:
  - id: workingDir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    cache:
      ttl: PT5m
      patterns:
        - "*.txt"
    tasks:
      - id: exists
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - hello.txt
      - id: inputFiles
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: |
            HELLO WORLD
""",
    "working-directory-each.yaml": """\
id: working-directory-each
namespace: company.team

tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["s1"]'
    tasks:
    - id: 1-1_each
      type: io.kestra.plugin.core.flow.ForEach
      values: '["s2"]'
      tasks:
        - id: 1-1-1_each
          type: io.kestra.plugin.core.flow.ForEach
          values: '["s3"]'
          tasks:
            - id: 1-1-1-1_return
              type: io.kestra.plugin.core.debug.Return
              format: "{{task.id}} > {{taskrun.value}} > {{taskrun.startDate}}"
            - id: worker
              type: io.kestra.plugin.core.flow.WorkingDirectory
              tasks:
              - id: first
                type: io.kestra.plugin.core.storage.LocalFiles
                inputs:
                  out/stay.txt: "{{ taskrun.id }}"
              - id: second
                type: io.kestra.plugin.core.storage.LocalFiles
                outputs:
                  - out/*
  - id: 2_end
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.second.s1.s2.s3.uris['out/stay.txt'] }}"
""",
    "working-directory-taskrun.yml": """\
id: working-directory-taskrun
namespace: company.team

tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.ForEach
    concurrencyLimit: 0
    values: ["1"]
    tasks:
      - id: workingDir
        type: io.kestra.plugin.core.flow.WorkingDirectory
        tasks:
          - id: log-taskrun
            type: io.kestra.plugin.core.debug.Return
            format:  "{{ taskrun.value }}"
""",
}
