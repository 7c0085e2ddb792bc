"""The kit export to protobuf."""

from __future__ import annotations

from collections.abc import Sequence

from muster.inventory.v1 import inventory_service_pb2 as pb

from services.inventory.api import mappers
from services.inventory.domain import model


def kit_contents(kit: model.Kit, contents: model.KitContents) -> pb.KitContents:
    return pb.KitContents(
        kit=mappers.kit(kit),
        units=[mappers.unit(u) for u in contents.units],
        lots=[mappers.lot(lt) for lt in contents.lots],
    )


def export_batch(
    cursor: str, kits: Sequence[tuple[model.Kit, model.KitContents]]
) -> pb.ExportKitsResponse:
    return pb.ExportKitsResponse(cursor=cursor, kits=[kit_contents(k, c) for k, c in kits])
