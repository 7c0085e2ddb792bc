"""A gRPC server with one unary method that answers the request bytes: the transport floor.

No database, no protobuf decoding, no interceptors: what a call costs on this
machine with grpc.aio alone. Started by scan_bench.py as its own process; it
prints the port it bound on stdout and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc

SERVICE = "muster.bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def serve(host: str = "127.0.0.1", port: int = 0) -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    print(bound, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    asyncio.run(serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0))
