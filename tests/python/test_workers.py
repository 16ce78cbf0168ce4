"""lakeqa.workers: tasks shared between this process and spawned workers give the results one
process gives, in order; a worker that dies costs only time; a task's own error is raised as without workers."""

import logging
import os
import time

import pytest

from lakeqa.workers import Workers, offer, offered


def square_where(parent_pid: int, x: int, pause_s: float = 0.05) -> tuple[int, int]:
    time.sleep(pause_s)  # long enough that the worker takes some of the tasks
    return os.getpid(), x * x


def die_in_a_worker(parent_pid: int, x: int) -> int:
    if os.getpid() != parent_pid:
        os._exit(3)  # as a worker killed for memory would
    return x * x


def fail_on_three(parent_pid: int, x: int) -> int:
    if x == 3:
        raise ValueError(f"task {x} failed")
    return x


def test_tasks_are_shared_and_results_come_back_in_order():
    me = os.getpid()
    with Workers(2, warm_modules=(__name__,)) as workers:
        assert workers.count == 1
        done = workers.run(square_where, [(me, x) for x in range(40)])
    assert [value for _, value in done] == [x * x for x in range(40)]
    pids = {pid for pid, _ in done}
    assert me in pids and len(pids) == 2  # this process worked, and so did the worker


def test_one_process_runs_everything_here():
    me = os.getpid()
    with Workers(1) as workers:
        assert workers.count == 0
        done = workers.run(square_where, [(me, x, 0.0) for x in range(5)])
    assert done == [(me, x * x) for x in range(5)]


def test_a_dead_worker_costs_only_time(caplog):
    me = os.getpid()
    with caplog.at_level(logging.WARNING, logger="lakeqa.workers"):
        with Workers(2) as workers:
            done = workers.run(die_in_a_worker, [(me, x) for x in range(10)])
    assert done == [x * x for x in range(10)]
    assert "worker process died" in caplog.text


def test_a_task_error_is_raised_as_without_workers():
    me = os.getpid()
    with Workers(2) as workers, pytest.raises(ValueError, match="task 3 failed"):
        workers.run(fail_on_three, [(me, x) for x in range(8)])


def test_a_submitted_task_runs_on_the_worker_and_here_when_it_dies(caplog):
    me = os.getpid()
    with Workers(2) as workers:
        pid, value = workers.submit(square_where, me, 7, 0.0)()
        assert (value, pid != me) == (49, True), "the task did not run on the worker"
        with pytest.raises(ValueError, match="task 3 failed"):
            workers.submit(fail_on_three, me, 3)()
        with caplog.at_level(logging.WARNING, logger="lakeqa.workers"):
            assert workers.submit(die_in_a_worker, me, 5)() == 25  # the worker died: run here
            assert workers.submit(square_where, me, 4, 0.0)() == (me, 16)  # and the next task too
    assert "worker process" in caplog.text
    with Workers(1) as alone:
        assert alone.submit(square_where, me, 3, 0.0)() == (me, 9)


def here(fn, *args):
    return fn(*args)


def test_each_shares_items_between_this_thread_and_the_worker_in_order():
    me = os.getpid()

    def work(x, remote):
        pid, value = (remote or here)(square_where, me, x)
        return remote is None, pid, value

    with Workers(2, warm_modules=(__name__,)) as workers:
        done = workers.each(range(30), work)
    assert [value for _, _, value in done] == [x * x for x in range(30)]
    assert {pid for local, pid, _ in done if local} == {me}, "an item handled here ran elsewhere"
    elsewhere = {pid for local, pid, _ in done if not local}
    assert elsewhere and me not in elsewhere, "the worker handled nothing, or its tasks ran here"


def test_each_on_one_process_handles_everything_here():
    me = os.getpid()
    with Workers(1) as workers:
        done = workers.each(range(5), lambda x, remote: (remote, square_where(me, x, 0.0)))
    assert done == [(None, (me, x * x)) for x in range(5)]


def test_each_runs_a_dead_workers_tasks_here(caplog):
    me = os.getpid()
    with caplog.at_level(logging.WARNING, logger="lakeqa.workers"):
        with Workers(2) as workers:
            done = workers.each(range(10), lambda x, remote: (remote or here)(die_in_a_worker, me, x))
    assert done == [x * x for x in range(10)]
    assert "worker process died" in caplog.text


def test_each_raises_an_items_error_and_takes_no_item_after_it():
    me = os.getpid()
    taken = []

    def work(x, remote):
        taken.append(x)
        time.sleep(0.05)
        return (remote or here)(fail_on_three, me, x)

    with Workers(2) as workers, pytest.raises(ValueError, match="task 3 failed"):
        workers.each(range(40), work)
    assert 3 in taken and len(taken) < 10, f"items taken after the failure: {taken}"


def test_offered_workers_are_the_offerers_and_asked_for_only_when_needed():
    assert offered() is None, "a plain dbt build is offered nothing"
    lent, asked = Workers(1), []
    with offer(lambda: asked.append(1) or lent):
        assert asked == [], "the provider was called before anyone asked"
        assert offered() is lent and asked == [1]
        with offer(lambda: None):
            assert offered() is None
        assert offered() is lent
    assert offered() is None


def test_each_queues_the_next_item_on_a_worker_before_its_current_one_is_done():
    """A worker never waits for its next item to be prepared here: FEEDERS_PER_WORKER threads feed it, so
    while it computes one item the next is already sent (the items' spans on the feeding side overlap)."""
    me = os.getpid()
    spans = []

    def work(x, remote):
        start = time.monotonic()
        pid, value = (remote or here)(square_where, me, x, 0.1)
        if remote is not None:
            spans.append((start, time.monotonic()))
        return value

    with Workers(2, warm_modules=(__name__,)) as workers:
        workers.submit(square_where, me, 0, 0.0)()  # the worker is up: its items are not held by its start
        assert workers.each(range(20), work) == [x * x for x in range(20)]
    spans.sort()
    assert len(spans) >= 4, f"the worker handled {len(spans)} items"
    overlapping = sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)
    assert overlapping >= len(spans) // 2, f"the worker's items were fed one after the other: {spans}"


def test_each_does_not_queue_the_last_items_behind_a_busy_worker():
    """The last items go to whichever process is free first: a worker's thread takes one of the last
    (no more than every process could take) only when the worker has nothing else, so that this process
    never runs out of items while one still waits in a worker's queue. This process is made the slower
    one here, so that the workers' threads would otherwise take the last items."""
    me = os.getpid()
    taken = []  # (item a worker's thread took, whether another item was on the worker then)
    on_worker = []

    def work(x, remote):
        if remote is not None:
            taken.append((x, bool(on_worker)))
            on_worker.append(x)
            try:
                return remote(square_where, me, x, 0.05)[1]
            finally:
                on_worker.remove(x)
        return here(square_where, me, x, 0.2)[1]

    items = list(range(12))
    with Workers(2, warm_modules=(__name__,)) as workers:
        workers.submit(square_where, me, 0, 0.0)()  # the worker is up
        assert workers.each(items, work) == [x * x for x in items]
    queued = [x for x, behind_another in taken if behind_another]
    assert queued, "the workers' threads never queued an item: the test does not exercise prefetching"
    processes = 2
    assert max(queued) < len(items) - processes, f"item(s) {queued} of {len(items)} were queued behind another"
