"""Serve one function the way functions-framework builds it, in ONE process.

``functions-framework --asgi`` runs gunicorn with a uvicorn worker (two processes, about
twice the memory); the container image keeps that. Locally every Service runs through
this module instead: the same ``create_asgi_app`` (so the same routing, decorators and
error handling), served by uvicorn directly with uvloop and httptools.

    python -m localplatform.runtime.serve --target health --source functions/health/main.py \\
        --port 8080
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    parser = argparse.ArgumentParser(prog="serve")
    parser.add_argument("--target", default=os.environ.get("FUNCTION_TARGET"))
    parser.add_argument("--source", default=os.environ.get("FUNCTION_SOURCE"))
    parser.add_argument("--signature-type", default=os.environ.get("FUNCTION_SIGNATURE_TYPE"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args()

    import uvicorn
    from functions_framework.aio import create_asgi_app

    app = create_asgi_app(args.target, args.source, args.signature_type)  # type: ignore[no-untyped-call]
    uvicorn.run(
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


if __name__ == "__main__":
    main()
