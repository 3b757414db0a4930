"""The stream-hole guard (streams/log/gaps.py): what Faust skipped is read again."""

from __future__ import annotations

from streams.log.gaps import IDLE_S, MAX_SEEKS, RESEEK_AFTER_S, GapGuard, Verdict

P = "commands:0"


def test_records_in_order_are_processed() -> None:
    guard = GapGuard()
    for offset in range(5):
        assert guard.check(P, offset, now=0.0) is Verdict.PROCESS
        guard.applied(P, offset)
    assert guard.expected == {P: 5}


def test_a_partition_without_a_tracking_record_starts_where_the_stream_starts() -> None:
    guard = GapGuard()
    assert guard.check(P, 40, now=0.0) is Verdict.PROCESS


def test_a_hole_seeks_back_once_then_skips_until_the_expected_record_comes() -> None:
    guard = GapGuard(expected={P: 4})
    # The observed failure: offsets 4..8 never reached the agent, 9 came next.
    assert guard.check(P, 9, now=0.0) is Verdict.SEEK
    assert guard.check(P, 10, now=0.1) is Verdict.SKIP
    assert guard.check(P, 11, now=0.2) is Verdict.SKIP
    assert guard.check(P, 4, now=0.3) is Verdict.PROCESS
    guard.applied(P, 4)
    assert guard.holes == {}
    assert guard.check(P, 5, now=0.4) is Verdict.PROCESS


def test_a_restart_reads_from_the_tracking_record_not_from_what_faust_committed() -> None:
    # Faust recorded the hole as a "gap" and committed past it: the stream restarts at 57.
    guard = GapGuard(expected={P: 49})
    assert guard.check(P, 57, now=0.0) is Verdict.SEEK


def test_redelivered_records_are_processed_again_and_do_not_move_the_position_back() -> None:
    guard = GapGuard(expected={P: 10})
    assert guard.check(P, 7, now=0.0) is Verdict.PROCESS
    guard.applied(P, 7)
    assert guard.expected[P] == 10


def _seek_until_asked(guard: GapGuard, offset: int) -> tuple[list[Verdict], float]:
    now = 0.0
    verdicts = [guard.check(P, offset, now)]
    for _ in range(MAX_SEEKS * 3):
        now += RESEEK_AFTER_S
        verdicts.append(guard.check(P, offset, now))
        if verdicts[-1] is Verdict.ASK_LOG:
            break
    return verdicts, now


def test_a_hole_whose_records_are_on_the_log_is_never_given_up() -> None:
    # A CI run on a loaded machine lost 69 executions' inputs when a fixed number of
    # seeks was taken to mean "gone from the log".
    guard = GapGuard(expected={P: 3})
    verdicts, now = _seek_until_asked(guard, 20)
    assert verdicts.count(Verdict.SEEK) == MAX_SEEKS
    assert verdicts[-1] is Verdict.ASK_LOG
    assert guard.log_starts_at(P, log_start=0, now=now) is False
    assert guard.check(P, 20, now) is Verdict.SEEK  # another round, at once
    assert guard.expected[P] == 3
    for _ in range(MAX_SEEKS * 4):  # and rounds after rounds, never PROCESS past the hole
        now += RESEEK_AFTER_S
        verdict = guard.check(P, 20, now)
        assert verdict in (Verdict.SEEK, Verdict.ASK_LOG)
        if verdict is Verdict.ASK_LOG:
            assert guard.log_starts_at(P, log_start=3, now=now) is False
    assert guard.check(P, 3, now) is Verdict.PROCESS
    assert guard.holes == {}


def test_records_gone_from_the_log_are_given_up_and_the_partition_reads_from_its_start() -> None:
    guard = GapGuard(expected={P: 3})
    _, now = _seek_until_asked(guard, 20)
    assert guard.log_starts_at(P, log_start=10, now=now) is True  # 3..9 were deleted
    assert guard.check(P, 20, now) is Verdict.SEEK  # 10..19 are still there: read them
    assert guard.check(P, 10, now) is Verdict.PROCESS
    guard.applied(P, 10)
    assert guard.expected[P] == 11


def test_a_tail_hole_that_outlived_its_seeks_asks_the_log_from_the_timer() -> None:
    guard = GapGuard(expected={P: 3})
    assert guard.check(P, 9, now=0.0) is Verdict.SEEK
    now = 0.0
    for _ in range(MAX_SEEKS - 1):
        now += RESEEK_AFTER_S
        assert guard.overdue(now) == {P: 3}
    now += RESEEK_AFTER_S
    assert guard.overdue(now) == {}
    assert guard.outlived(now) == {P}
    assert guard.log_starts_at(P, log_start=0, now=now) is False
    assert guard.overdue(now) == {P: 3}  # seeking again, at once
    assert guard.outlived(now) == set()


def test_partitions_are_guarded_independently_and_forgotten_on_reassignment() -> None:
    guard = GapGuard(expected={P: 3, "worker-results:1": 8})
    assert guard.check("worker-results:1", 8, now=0.0) is Verdict.PROCESS
    assert guard.check(P, 5, now=0.0) is Verdict.SEEK
    guard.forget()
    assert guard.check(P, 5, now=0.0) is Verdict.PROCESS


def test_a_hole_that_no_record_revisits_is_sought_again_by_the_timer() -> None:
    guard = GapGuard(expected={P: 3})
    assert guard.check(P, 9, now=0.0) is Verdict.SEEK
    assert guard.overdue(now=RESEEK_AFTER_S / 2) == {}
    assert guard.overdue(now=RESEEK_AFTER_S) == {P: 3}
    assert guard.overdue(now=RESEEK_AFTER_S + 0.1) == {}


def test_a_hole_at_the_tail_is_found_from_the_high_watermark_once_the_partition_idles() -> None:
    # Observed: commands-1 delivered up to 49, then nothing, with records up to 100 there.
    guard = GapGuard(expected={P: 50})
    assert guard.check(P, 49, now=0.0) is Verdict.PROCESS
    assert guard.stalled(P, highwater=50, now=10.0) is None  # nothing past what it applied
    assert guard.stalled(P, highwater=101, now=IDLE_S / 2) is None  # records may be on the way
    assert guard.stalled(P, highwater=101, now=IDLE_S) == 50
    assert guard.stalled(P, highwater=101, now=IDLE_S + 1) is None  # sought: `overdue` retries
    assert guard.check(P, 50, now=IDLE_S + 1.5) is Verdict.PROCESS
    assert guard.holes == {}


def test_a_partition_never_seen_gets_a_grace_period_before_it_counts_as_stalled() -> None:
    guard = GapGuard(expected={P: 7})
    assert guard.stalled(P, highwater=30, now=100.0) is None
    assert guard.stalled(P, highwater=30, now=100.0 + IDLE_S) == 7
