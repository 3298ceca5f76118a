"""SQLite writers of one process take the write lock in arrival order, never by luck.

Without the queue, threads met at SQLite's busy handler, which polls with
growing sleeps: on a loaded machine one thread could lose every race for the
whole busy timeout and fail with "database is locked".
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from hitrack.db.session import WriterQueue, make_engine, writer_queue


def wait_for_waiters(queue: WriterQueue, count: int) -> None:
    with queue.changed:
        assert queue.changed.wait_for(lambda: queue.waiting >= count, timeout=10)


def test_the_queue_hands_the_lock_to_waiters_in_arrival_order() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=1)
    order: list[int] = []

    def writer(n: int) -> None:
        assert queue.acquire(timeout=10)
        order.append(n)
        queue.release()

    threads = []
    for n in range(5):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        wait_for_waiters(queue, n + 1)  # n is queued before n + 1 arrives
        threads.append(thread)
    queue.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_times_out_leaves_the_queue_and_the_next_one_gets_the_lock() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=1)
    assert queue.acquire(timeout=0.01) is False
    assert queue.waiting == 0
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(queue.acquire(timeout=10)))
    thread.start()
    wait_for_waiters(queue, 1)
    queue.release()  # released by another thread than the holder: allowed
    thread.join(timeout=10)
    assert got == [True]


def test_transactions_on_one_sqlite_file_begin_in_arrival_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.sqlite3'}"
    engines = [make_engine(url) for _ in range(4)]
    with engines[0].begin() as conn:
        conn.execute(text("CREATE TABLE log (n INTEGER)"))
    queue = writer_queue(url)
    assert queue is not None
    first = engines[0].connect()
    first.begin()  # holds the write lock, as a long transaction would

    def writer(n: int) -> None:
        with engines[n].begin() as conn:
            conn.execute(text("INSERT INTO log VALUES (:n)"), {"n": n})

    threads = []
    for n in (1, 2, 3):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        wait_for_waiters(queue, n)
        threads.append(thread)
    first.execute(text("INSERT INTO log VALUES (0)"))
    first.commit()
    for thread in threads:
        thread.join(timeout=30)
    first.close()
    with engines[0].connect() as conn:
        assert [n for (n,) in conn.execute(text("SELECT n FROM log ORDER BY rowid"))] == [
            0,
            1,
            2,
            3,
        ]
    for engine in engines:
        engine.dispose()
