"""Request ids the server makes for calls that bring none: unique, also across forked workers."""

from __future__ import annotations

import subprocess
import sys

from services.common.interceptors import _RequestIds


def test_new_request_ids_are_distinct_and_shaped_like_a_uuid4_hex() -> None:
    ids = _RequestIds()
    made = [ids.next() for _ in range(1000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)


def test_a_forked_worker_draws_its_own_prefix() -> None:
    # Forked in a fresh interpreter: the test process runs grpc's threads, and a fork
    # beside them can hang or kill the child (an inventory worker forks before any).
    script = """
import os
from services.common.interceptors import _RequestIds
ids = _RequestIds()
parent = ids.next()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, ids.next().encode())
    os._exit(0)
os.close(write)
child = os.read(read, 64).decode()
os.waitpid(pid, 0)
print(parent, child)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    parent, child = done.stdout.split()
    assert len(parent) == len(child) == 32
    assert child[:16] != parent[:16]
