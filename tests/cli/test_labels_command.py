"""`muster labels` prints scannable payloads for a seeded depot and draws them."""

from pathlib import Path

from rich.console import Console

from services.cli import labels as printing
from services.inventory.domain import labels
from tests.conftest import start_inventory


async def test_printed_payloads_parse_back_to_what_they_name(seeded_url: str, tmp_path: Path):
    running = await start_inventory(seeded_url)
    try:
        import asyncio

        found = await asyncio.to_thread(
            printing.collect, running.address, "D-DET-JILIN", ("bins", "kits", "units")
        )
        kinds = {p.kind for p in found}
        assert kinds == {"bin", "kit", "unit", "lot"}
        for printed in found:
            parsed = labels.parse(printed.code)
            expected = {
                "bin": labels.BinLabel,
                "kit": labels.KitLabel,
                "unit": labels.UnitLabel,
                "lot": labels.LotLabel,
            }[printed.kind]
            assert isinstance(parsed, expected)
        kit = next(p for p in found if p.kind == "kit")
        svg = printing.write_svg(kit, tmp_path)
        assert svg.read_text().startswith("<?xml") and "<svg" in svg.read_text()
        out = Console(record=True, width=200)
        await asyncio.to_thread(printing.show, running.address, "D-DET-JILIN", ("bins",), None, out)
        assert "(414)" in out.export_text()
    finally:
        await running.stop(0)
