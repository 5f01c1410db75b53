"""The ``kmslab`` command: health check, the workbook, learner copies, a static handout, clean-up.

    kmslab doctor [--terraform] [--target T]   one line per check; non-zero exit on a failure
    kmslab lab [--folder F] [-- JUPYTER ARGS]  open JupyterLab on the workbook (a learner copy when installed)
    kmslab status [--target T]                 what exists in the target
    kmslab cleanup [--dry-run] [--lab-id ID]   remove everything a lab tagged in real AWS
    kmslab reset DEST [--force]                a fresh learner copy: notebooks, mistakes/, terraform/
    kmslab handout [--out FILE]                a static HTML handout of the executed notebooks

Errors are one clear sentence, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._errors import KmslabError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kmslab", description="The kmslab workbook's command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser("doctor", help="check that this machine can run the workbook")
    doctor.add_argument("--terraform", action="store_true", help="also check the terraform CLI and provider")
    doctor.add_argument("--target", default=None, help="the target to reach (offline, emulator, aws)")

    lab = commands.add_parser(
        "lab", help="open JupyterLab on the workbook",
        description="Open JupyterLab on the workbook: a clone's notebooks/, or (installed from a wheel) a "
                    "learner copy in ./kmslab-workbook, made the first time. Options kmslab does not know, and "
                    "everything after --, go to jupyter lab (kmslab lab -- --port 8890 --no-browser). As root, "
                    "--allow-root is added. Stop it with Ctrl+C twice.")
    lab.add_argument("--folder", default=None, help="open this folder instead (a learner copy: kmslab reset F)")

    status = commands.add_parser("status", help="what exists in the target")
    status.add_argument("--target", default=None)

    cleanup = commands.add_parser("cleanup", help="remove everything tagged for a lab in real AWS")
    cleanup.add_argument("--dry-run", action="store_true", help="list what would be removed; change nothing")
    cleanup.add_argument("--lab-id", default=None, help="only this lab's resources (default: every kmslab lab)")
    cleanup.add_argument("--target", default="aws")

    reset = commands.add_parser("reset", help="fresh learner copies of the notebooks")
    reset.add_argument("dest", help="folder to write the notebooks into")
    reset.add_argument("--force", action="store_true", help="overwrite notebooks already there")

    handout = commands.add_parser("handout", help="a static HTML handout of the executed notebooks")
    handout.add_argument("--out", default="kmslab-handout.html", help="the HTML file to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if argv[:1] == ["lab"] and "--" in argv:  # everything after -- is JupyterLab's
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "lab":
        args.jupyter_args = unknown + passthrough
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    from . import _commands
    try:
        return getattr(_commands, args.command)(args)
    except KmslabError as error:
        print(f"kmslab {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kmslab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
