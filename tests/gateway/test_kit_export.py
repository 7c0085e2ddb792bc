"""Inventory's kit export: every kit with its contents, and a cursor the feed resumes from."""

from muster.inventory.v1 import inventory_service_pb2 as inv


async def test_export_holds_every_seeded_kit_with_contents_and_a_cursor(seeded_stub) -> None:
    answers = [a async for a in seeded_stub.ExportKits(inv.ExportKitsRequest())]
    kits = [k for a in answers for k in a.kits]
    assert len(kits) == 110
    assert len({a.cursor for a in answers}) == 1 and answers[0].cursor
    flood = next(k for k in kits if k.kit.label == "D-CORPS/WATER-FLOOD/1")
    assert flood.kit.state == inv.Kit.STATE_INCOMPLETE
    assert sum(lt.quantity for lt in flood.lots) + len(flood.units) == 107
    watch = seeded_stub.WatchChanges(inv.WatchChangesRequest(cursor=answers[0].cursor))
    first = await watch.read()
    assert first.cursor == answers[0].cursor
    watch.cancel()
