"""`python -m batchform TASK ...`: the same tasks as `invoke TASK ...` from the repository root."""

from invoke import Program

from . import __version__
from .cli import namespace


def main() -> None:
    Program(namespace=namespace, version=__version__, name="batchform", binary="batchform").run()


if __name__ == "__main__":
    main()
