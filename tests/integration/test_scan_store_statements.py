"""The scan pool's statements: prepared by name once, run in a transaction they open
themselves, and still there after rollbacks (psycopg would have dropped its own)."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from services.inventory.adapters.batch_store import BatchKeys, BatchStore
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory


async def _prepared(conn: psycopg.AsyncConnection) -> set[str]:
    """The statements this session prepared (run outside a transaction: autocommit)."""
    cur = await conn.execute("SELECT name FROM pg_prepared_statements")
    return {name for (name,) in await cur.fetchall()}


async def test_statements_open_the_transaction_and_stay_prepared_across_rollbacks(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory.scans() as unit:
        conn = unit.store.conn
        assert conn.autocommit and conn.prepare_threshold is None
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert await unit.store.claim(["never-sent-1"]) == {}
        # BEGIN went with the statement: the claim's lock is held in a transaction.
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        async with unit.savepoint():
            await unit.store.claim(["never-sent-2"])
        try:
            async with unit.savepoint():
                await unit.store.claim(["never-sent-3"])
                raise RuntimeError("undo the savepoint")
        except RuntimeError:
            pass
        await unit.rollback()
        assert conn.info.transaction_status == TransactionStatus.IDLE
        names = {name for name in await _prepared(conn) if name.startswith("muster_scan_")}
        assert names, "the claim statement was prepared by name"
        await conn.rollback()  # nothing open: psycopg sends nothing
    async with uow_factory.scans() as unit:  # the same connection, back from the pool
        assert unit.store.conn is conn
        assert await unit.store.claim(["never-sent-4"]) == {}
        batch = BatchStore(unit.store.conn, unit.store.cache, unit.store.pooled)
        await batch.prefetch(BatchKeys(kit_giais={"no-such-giai"}), claim=["never-sent-5"])
        assert await batch.flush(commit=True) == {}
        assert conn.info.transaction_status == TransactionStatus.IDLE
        after = {name for name in await _prepared(conn) if name.startswith("muster_scan_")}
        assert names <= after and len(after) > len(names)  # the prefetch joined them


async def test_statements_deallocated_behind_the_pool_s_back_are_prepared_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory.scans() as unit:
        conn = unit.store.conn
        assert await unit.store.claim(["never-sent-6"]) == {}
        await unit.rollback()
        await conn.execute("DEALLOCATE ALL")
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            await unit.store.claim(["never-sent-7"])
        await unit.rollback()
        assert await unit.store.claim(["never-sent-8"]) == {}  # prepared anew


async def test_a_connection_cancelled_while_preparing_is_not_used_again(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory.scans() as unit:
        conn = unit.store.conn
        task = asyncio.create_task(unit.store.lock_kits(["no-such-giai-9"]))
        await asyncio.sleep(0)  # sent its PREPARE (a statement this connection lacks)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert conn.closed
    async with uow_factory.scans() as unit:
        assert unit.store.conn is not conn
        assert await unit.store.claim(["never-sent-10"]) == {}
