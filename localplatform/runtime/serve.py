"""Serve one function the way functions-framework builds it, in ONE process.

``functions-framework --asgi`` runs gunicorn with a uvicorn worker (two processes, about
twice the memory); the container image keeps that. Locally every Service runs through
this module instead: the same ``create_asgi_app`` (so the same routing, decorators and
error handling), served by uvicorn directly with uvloop and httptools.

    python -m localplatform.runtime.serve --target health --source functions/health/main.py \\
        --port 8080

The runtime passes ``--fd`` instead: a socket it bound and holds for the Service's life,
so the port cannot be taken by anything else between scale-to-zero and the next start
(socket activation, as systemd does it). With ``--ready-fd`` the process writes one byte
there once the function is imported and the socket is about to be served: with a
listening socket that the parent holds, "accepts a connection" says nothing about the
child, so readiness has to come from it.
"""

from __future__ import annotations

import argparse
import os
import socket


def main() -> None:
    parser = argparse.ArgumentParser(prog="serve")
    parser.add_argument("--target", default=os.environ.get("FUNCTION_TARGET"))
    parser.add_argument("--source", default=os.environ.get("FUNCTION_SOURCE"))
    parser.add_argument("--signature-type", default=os.environ.get("FUNCTION_SIGNATURE_TYPE"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument("--fd", type=int, help="serve this inherited listening socket")
    parser.add_argument("--ready-fd", type=int, help="write one byte here when serving")
    args = parser.parse_args()

    import uvicorn
    from functions_framework.aio import create_asgi_app

    app = create_asgi_app(args.target, args.source, args.signature_type)  # type: ignore[no-untyped-call]
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    sockets = None
    if args.fd is not None:
        # socket(fileno=) reads the family from the descriptor (uvicorn's own --fd
        # assumes AF_UNIX).
        sockets = [socket.socket(fileno=args.fd)]
    if args.ready_fd is not None:
        os.write(args.ready_fd, b"r")
        os.close(args.ready_fd)
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
