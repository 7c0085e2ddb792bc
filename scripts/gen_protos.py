"""Generate Python code from proto/ into gen/ (the one way code is generated).

gen/ is not committed; `make install` runs this before installing the project,
which maps gen/muster to the importable package `muster`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
GEN = ROOT / "gen"


def _include_dirs() -> list[Path]:
    """proto/, protobuf's well-known types, and googleapis' common protos."""
    import google.type  # googleapis-common-protos ships its .proto files

    wkt = Path(grpc_tools.__file__).parent / "_proto"
    googleapis = Path(google.type.__path__[0]).parent.parent
    return [PROTO, wkt, googleapis]


def main() -> int:
    sources = sorted(PROTO.rglob("*.proto"))
    if GEN.exists():
        shutil.rmtree(GEN)
    GEN.mkdir()
    args = ["grpc_tools.protoc", *(f"-I{d}" for d in _include_dirs())]
    args += [f"--python_out={GEN}", f"--pyi_out={GEN}", f"--grpc_python_out={GEN}"]
    args += [str(s) for s in sources]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    for folder in (d for d in GEN.rglob("*") if d.is_dir()):
        (folder / "__init__.py").touch()
    (GEN / "muster" / "py.typed").touch()
    print(f"generated {len(sources)} proto file(s) into {GEN.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
