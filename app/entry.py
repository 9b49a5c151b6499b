"""The `siteflow` console script.

Serving commands patch the standard library for gevent before anything else is imported
(the CTFd habit); every other command runs unpatched.
"""
from __future__ import annotations

import sys

SERVING_COMMANDS = {"serve", "demo"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in SERVING_COMMANDS:
        from gevent import monkey

        monkey.patch_all()
    from app.cli import cli

    cli()


if __name__ == "__main__":
    main()
