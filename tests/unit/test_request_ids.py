"""Request ids the server makes for calls that bring none: unique, also across forked workers."""

from __future__ import annotations

import os

from services.common.interceptors import _RequestIds


def test_new_request_ids_are_distinct_and_shaped_like_a_uuid4_hex() -> None:
    ids = _RequestIds()
    made = [ids.next() for _ in range(1000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)


def test_a_forked_worker_draws_its_own_prefix() -> None:
    ids = _RequestIds()
    parent = ids.next()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave at once
        os.write(write, ids.next().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child[:16] != parent[:16]
