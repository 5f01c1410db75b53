"""The environment check of notebook 00 (and of ``kmslab doctor``'s first lines)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from .._lab import ADMIN_USER, Lab
from ._wrap import wrap
from .steps import TERRAFORM_DIR


@dataclass(frozen=True)
class EnvironmentReport:
    lines: tuple[tuple[bool, str], ...]

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.lines)

    def __str__(self) -> str:
        body = "\n".join(f"{'✔' if ok else '✘'} {text}" for ok, text in self.lines)
        tail = "Everything is ready." if self.ok else "Something is missing: see the ✘ lines."
        return wrap(f"{body}\n{tail}")

    def __repr__(self) -> str:
        return str(self)


def check_environment(lab: Lab | None = None) -> EnvironmentReport:
    """What the workbook needs, checked without printing versions (they differ between machines)."""
    lines: list[tuple[bool, str]] = [(sys.version_info >= (3, 10), "Python 3.10 or newer")]

    def has(module: str, label: str, major: str | None = None) -> None:
        try:
            imported = __import__(module)
        except ImportError:
            lines.append((False, f"{label} is not installed"))
            return
        version = str(getattr(imported, "__version__", ""))
        ok = major is None or version.split(".")[0] == major
        lines.append((ok, f"{label}" + (f" {major}" if major else "") + (" importable" if ok else
                                                                           f" (found {version})")))

    has("boto3", "boto3")
    has("moto", "moto (the in-process AWS emulator)")
    has("hcl2", "python-hcl2 (reads the .tf files)")
    has("ipywidgets", "ipywidgets", "8")
    lines.append(((Path(TERRAFORM_DIR) / "kms.tf").is_file(), f"the bundled Terraform folder ({Path(TERRAFORM_DIR).as_posix()})"))
    if lab is not None:
        lines.append((lab.target == "offline", f"an {lab.target} lab: account {lab.account_id}, region {lab.region}"))
        try:
            arn = lab.client("sts").get_caller_identity()["Arn"]
            lines.append((arn.endswith(f":user/{ADMIN_USER}"), f"you act as {arn}"))
        except ClientError as error:  # pragma: no cover - only on a broken install
            lines.append((False, f"sts:GetCallerIdentity failed: {error}"))
    return EnvironmentReport(tuple(lines))

