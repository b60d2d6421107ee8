"""Entry point: python -m xnat_standin --listen HOST:PORT --data-dir DIR [--seed FILE] ..."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from .app import create_app
from .bootstrap import SeedError
from .config import parse_settings


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        app = create_app(settings)
    except (OSError, SeedError) as exc:
        print(f"xnat-standin: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info(
        "XNAT stand-in for tests and demos (not XNAT) listening on %s:%s", settings.listen_host, settings.listen_port)
    web.run_app(app, host=settings.listen_host, port=settings.listen_port, print=None, handle_signals=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
