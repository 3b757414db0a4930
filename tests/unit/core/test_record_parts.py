"""The executor's record in parts (streams/core/record_parts.py): every step writes only
what it changed, and the parts read back always give the very record the step made."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.commands import ExecutorMessage, RestartExecution
from schemas.limits import Limits
from schemas.states import State
from streams.core.bounds import Bounds
from streams.core.handle import MAX_APPLIED, ExecutorRecord
from streams.core.record_parts import (
    Layout,
    RecordHead,
    assemble,
    every_key,
    head_key,
    writes,
)
from tests.unit.core.driver import Delivery, Result, Sim
from tests.unit.core.helpers import flow
from tests.unit.core.test_resilience import CHAIN


def loop(values: int) -> str:
    listed = ", ".join(str(n) for n in range(values))
    return f"""
        id: big
        namespace: company.team
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.ForEach
            values: [{listed}]
            concurrencyLimit: 5
            tasks:
              - id: each
                type: io.kestra.plugin.core.flow.Sleep
                duration: PT0S
        """


class PartsTable:
    """A table fed the way the executor feeds its own, checked after every step."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.parts: dict[str, BaseModel] = {}
        self.layouts: dict[str, Layout] = {}
        self.bytes_per_step: list[int] = []
        self.check_each_step = True
        handle = sim._handle

        def handled(inp: ExecutorMessage) -> Delivery:
            old = sim.records.get(inp.execution_id)
            delivery = handle(inp)
            if not delivery.redelivered:
                self.write(inp.execution_id, old, sim.records[inp.execution_id], delivery)
            return delivery

        sim._handle = handled  # type: ignore[method-assign]

    def write(
        self, eid: str, old: ExecutorRecord | None, new: ExecutorRecord, delivery: Delivery
    ) -> None:
        changes, layout = writes(eid, old, self.layouts.get(eid), new, delivery.events)
        written = 0
        for key, part in changes:
            if part is None:
                self.parts.pop(key, None)
            else:
                self.parts[key] = part
                written += len(part.model_dump_json())
        self.layouts[eid] = layout
        self.bytes_per_step.append(written)
        if self.check_each_step:
            self.assert_reads_back(eid, new)

    def assert_reads_back(self, eid: str, record: ExecutorRecord) -> None:
        head = self.parts[head_key(eid)]
        assert isinstance(head, RecordHead)
        again, layout = assemble(head, self.parts.get)
        fields = ("execution", "applied", "early", "parked_at", "last_event_at")
        assert {f: getattr(again, f) for f in fields} == {f: getattr(record, f) for f in fields}
        # What matters of the recent events: each remembered input re-emits the same ones.
        mine = {e.seq: e for e in record.recent}
        theirs = {e.seq: e for e in again.recent}
        for first, last in record.applied.values():
            for seq in range(first, last + 1):
                assert theirs.get(seq) == mine.get(seq) or seq not in mine, seq
        assert again.execution is None or list(again.execution.task_runs) == list(
            record.execution.task_runs if record.execution else {}
        )
        assert layout == self.layouts[eid]


def test_a_foreach_reads_back_whole_after_every_step_and_each_step_writes_alike() -> None:
    sim = Sim(loop(150), bounds=Bounds(Limits(fan_out=400)))
    table = PartsTable(sim)
    sim.start("big")
    assert sim.state().state == State.SUCCESS
    assert len(sim.state().task_runs) == 151
    steps = table.bytes_per_step
    early, late = steps[20:70], steps[-70:-20]
    # The record itself grew fivefold meanwhile; what one step writes did not.
    assert max(late) < 1.5 * max(early), (max(early), max(late))
    whole = len(sim.records["e1"].model_dump_json())
    assert max(late) * 20 < whole, (max(late), whole)


def test_redeliveries_and_restarts_read_back_whole() -> None:
    sim = Sim(
        flow(CHAIN), outcomes={"work": Result(State.FAILED, error="down")}, seed=3, duplicates=True
    )
    table = PartsTable(sim)
    sim.start("f")
    assert sim.state().state == State.FAILED
    sim.outcomes.clear()
    restart = RestartExecution(command_id="restart:1", execution_id="e1", time=sim.now)
    sim.send(restart)
    sim.run()
    assert sim.state().state == State.SUCCESS
    table.assert_reads_back("e1", sim.records["e1"])
    sim.check()


def test_the_redelivery_window_is_bounded_and_every_key_names_what_is_left() -> None:
    sim = Sim(flow(CHAIN), hold=["work"])
    table = PartsTable(sim)
    sim.start("f")
    table.check_each_step = False  # once at the end: each check reads the whole window
    for n in range(MAX_APPLIED + 30):
        sim.send(
            RestartExecution(command_id=f"noop{n}", execution_id="e1", time=sim.now)
        )  # a restart of a running execution changes nothing, and is remembered
    record = sim.records["e1"]
    assert len(record.applied) == MAX_APPLIED
    table.assert_reads_back("e1", record)
    inputs = [key for key in table.parts if "\x1finput\x1f" in key]
    assert len(inputs) == MAX_APPLIED
    head = table.parts[head_key("e1")]
    assert isinstance(head, RecordHead)
    assert set(every_key("e1", head)) == set(table.parts)


def test_a_record_without_a_layout_is_written_whole_once() -> None:
    sim = Sim(flow(CHAIN))
    sim.start("f")
    record = sim.records["e1"]
    changes, layout = writes("e1", record, None, record, [])
    assert record.execution is not None
    runs = [key for key, _ in changes if "\x1frun\x1f" in key]
    assert len(runs) == len(record.execution.task_runs) == len(layout.run_numbers)
    parts = {key: part for key, part in changes if part is not None}
    head = parts[head_key("e1")]
    assert isinstance(head, RecordHead)
    assert assemble(head, parts.get)[0] == record


def test_a_step_whose_head_never_reached_the_log_reads_back_as_the_step_before() -> None:
    """A crash after an input's parts were sent and before its head was: the record read
    back is the one the head describes (its input is then delivered again)."""
    sim = Sim(loop(12), bounds=Bounds(Limits(fan_out=400)))
    sim.start("big")
    steps = [d for d in sim.log if not d.redelivered]
    torn_reads = 0
    parts: dict[str, BaseModel] = {}
    layout: Layout | None = None
    old: ExecutorRecord | None = None
    replay = Sim(loop(12), bounds=Bounds(Limits(fan_out=400)))
    for number, delivery in enumerate(steps):
        replay._handle(delivery.inp)
        new = replay.records["e1"]
        changes, after = writes("e1", old, layout, new, delivery.events)
        if number % 3 == 2 and old is not None:
            torn = dict(parts)
            for key, part in changes:
                if key != head_key("e1"):
                    if part is None:
                        torn.pop(key, None)
                    else:
                        torn[key] = part
            head = torn[head_key("e1")]
            assert isinstance(head, RecordHead)
            assert assemble(head, torn.get)[0].execution == old.execution
            torn_reads += 1
        for key, part in changes:
            if part is None:
                parts.pop(key, None)
            else:
                parts[key] = part
        old, layout = new, after
    assert torn_reads > 5
