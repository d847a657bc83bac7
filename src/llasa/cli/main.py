"""`llasa` entry point: a registry of subcommands, each a thin module in ``llasa.cli``.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable ``(args) -> int``. Arguments are parsed in :func:`main` only.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._common.errors import LlasaError

# Subcommand modules, in help order. A module that is not present is skipped.
_COMMANDS = ["tts", "codec", "voice", "data", "train", "asr", "eval", "serve", "export",
             "quantize", "info"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="llasa", description="Llasa speech synthesis toolkit",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: llasa tts \"Hello there.\" -o hello.wav")
    parser.add_argument("--version", action="version", version=f"llasa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"llasa.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"llasa.cli.{name}":
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LlasaError as e:
        print(f"llasa: error: {e}", file=sys.stderr)
        return 2
    except (OSError, UnicodeError) as e:  # a file problem no early check caught: one line too
        print(f"llasa: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("llasa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
