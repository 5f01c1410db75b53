"""The real terraform CLI behind the same ``Stack`` API as the embedded applier.

``lab.terraform(path, engine="terraform")`` copies the ``.tf`` files into a working copy, adds a provider
override that points the AWS provider at the lab's endpoint on 127.0.0.1 (with the lab-admin's keys and
the skip flags an emulator needs), and runs ``terraform init``, ``plan``, ``apply`` and ``destroy`` there.
State comes from ``terraform show -json``; outputs from ``terraform output -json``. ``Lab.terraform``
keeps one working copy per configuration folder (``workdir=``), so its ``terraform.tfstate`` carries
over from one stack to the next, as one working directory does.

Offline use needs the AWS provider in a local mirror: kmslab writes a CLI configuration with a
``filesystem_mirror`` when it finds one (``$KMSLAB_TF_PROVIDER_MIRROR``, else ``/opt/tf-plugins``, else
``~/.terraform.d/plugins``); otherwise ``terraform init`` downloads the provider as usual.

*One provider process.* Each terraform command starts the AWS provider anew, and the provider spends
about 2.5 s of CPU building its schema before it does anything. For the lab's emulator and a
configuration with one AWS provider configuration, kmslab starts the mirror's provider once per
process in Terraform's own reattach mode (``terraform-provider-aws -debug``, then
``TF_REATTACH_PROVIDERS``, the mechanism Terraform documents for provider debugging) and every command
uses it: the same binary, configured afresh by each command. ``KMSLAB_TF_WARM_PROVIDER=0`` turns it
off (every command then starts its own provider, as plain Terraform does).

*One init for the AWS provider.* ``terraform init`` from a mirror links the provider but hashes its
700 MB binary for the lock file: about 2.5 s a working directory. A configuration that needs nothing but
``hashicorp/aws`` from the mirror (no module, no backend, no other provider, the workbook's ``~> 5.0``
or no version constraint, and files kmslab's own parser reads) gets what ``init`` would write there,
``.terraform.lock.hcl`` and ``.terraform/providers``, from one real ``terraform init`` made once per
process (:func:`shared_init`); any other configuration runs its own ``init``, with its own errors.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import ApplyError, ConfigurationError, LabError

INSTALL_HINT = ("the terraform CLI is not installed (or not on PATH). Install it from "
                "https://developer.hashicorp.com/terraform/install, or use the embedded applier: "
                "lab.terraform(path) with no engine argument.")
_MIRROR_CANDIDATES = ("/opt/tf-plugins", "~/.terraform.d/plugins")


def find_provider_mirror() -> Path | None:
    """A filesystem mirror that holds the hashicorp/aws provider, or None."""
    candidates = [os.environ.get("KMSLAB_TF_PROVIDER_MIRROR", ""), *_MIRROR_CANDIDATES]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


def terraform_available() -> tuple[bool, str]:
    """Whether the CLI and an offline provider are here; the reason when not."""
    if shutil.which("terraform") is None:
        return False, INSTALL_HINT
    if find_provider_mirror() is None:
        return False, ("no local mirror of the hashicorp/aws provider was found (set KMSLAB_TF_PROVIDER_MIRROR "
                       "to a filesystem_mirror folder)")
    return True, ""


class CLIPlan:
    """The CLI's own plan text, with the same surface as the embedded applier's Plan."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        lines = [line for line in self.text.splitlines() if line.startswith(("Plan:", "No changes."))]
        self.summary = lines[-1] if lines else ""

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html
        return f"<pre class='kmslab-plan'>{html.escape(self.text)}</pre>"


def new_workdir() -> Path:
    """A fresh working directory for the CLI (its state lives there, as ``terraform.tfstate``)."""
    return Path(tempfile.mkdtemp(prefix="kmslab-terraform-"))


def _aliases(source: Path) -> tuple[str, ...]:
    """The aliases of the configuration's ``provider "aws"`` blocks, read file by file (a file kmslab cannot
    read is skipped: the CLI then reports its problem itself)."""
    from ._errors import ConfigurationError as Refused
    from ._terraform._check import alias_of
    from ._terraform._parse import parse_file

    found: set[str] = set()
    for tf in sorted(source.glob("*.tf")):
        try:
            blocks = parse_file(tf.read_text(encoding="utf-8"), tf.name)
            found.update(a for a in (alias_of(b) for b in blocks if b.type == "provider" and b.labels == ("aws",)) if a)
        except (Refused, OSError, UnicodeDecodeError):
            continue
    return tuple(sorted(found))


class TerraformCLIStack:
    """A folder of ``.tf`` files applied by the real terraform CLI against the lab's endpoint."""

    def __init__(self, path: Path, *, endpoint: str | None, region: str, access_key: str = "",
                 secret_key: str = "", variables: dict[str, Any] | None = None,
                 out: Callable[[str], None] = print, workdir: Path | None = None,
                 guard: Callable[[], None] | None = None) -> None:
        """``endpoint=None`` means real AWS: no override, and the learner's own AWS environment.

        ``workdir``: a working directory kept from an earlier stack over the same folder (its state
        and ``.terraform`` are kept; its ``.tf`` files are replaced by the folder's). ``guard`` is called
        before every run of the CLI and may refuse it (the lab that made the stack is closed)."""
        self.binary = shutil.which("terraform")
        if self.binary is None:
            raise LabError(INSTALL_HINT)
        source = Path(path)
        if not source.is_dir():
            raise ConfigurationError(f"no such folder: {source}")
        self.workdir = workdir if workdir is not None else new_workdir()
        self.workdir.mkdir(parents=True, exist_ok=True)
        for old in [*self.workdir.glob("*.tf"), *self.workdir.glob("*.tf.json")]:
            old.unlink()
        for tf in sorted([*source.glob("*.tf"), *source.glob("*.tf.json")]):
            shutil.copy2(tf, self.workdir / tf.name)
        aliases = _aliases(source)
        if endpoint is not None:
            self._write_override(endpoint, access_key, secret_key, region, aliases)
        self._env = self._environment(variables or {}, keep_aws=endpoint is None)
        # The lab's emulator, one provider configuration: the provider process kept warm can serve it.
        self._warm = endpoint is not None and not aliases
        #: Whether init would only install hashicorp/aws from the mirror (read once: the files are copied).
        self._aws_only = _needs_only_the_aws_provider(self.workdir)
        self._out = out
        self._initialized = False
        self._guard = guard
        self.outputs: dict[str, Any] = {}

    # -- set-up ---------------------------------------------------------------------------------------
    def _write_override(self, endpoint: str, access_key: str, secret_key: str, region: str,
                        aliases: tuple[str, ...] = ()) -> None:
        """One override block for the default provider and one for each aliased one, so that every
        provider configuration talks to the lab (an override file's arguments replace the original's).
        Organizations is pointed at the lab too: the lab answers it "not modelled" rather than letting an
        organization policy reach AWS."""
        blocks = [self._override_block(endpoint, access_key, secret_key, region, alias) for alias in (None, *aliases)]
        (self.workdir / "kmslab_override.tf").write_text(
            "# Written by kmslab: the AWS provider talks to the lab's endpoint, not to AWS.\n" + "\n".join(blocks))

    @staticmethod
    def _override_block(endpoint: str, access_key: str, secret_key: str, region: str, alias: str | None) -> str:
        alias_line = f'  alias                       = "{alias}"\n' if alias else ""
        return f'''provider "aws" {{
{alias_line}  region                      = "{region}"
  access_key                  = "{access_key}"
  secret_key                  = "{secret_key}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {{
    dynamodb = "{endpoint}"
    iam      = "{endpoint}"
    kms      = "{endpoint}"
    organizations = "{endpoint}"
    sts      = "{endpoint}"
  }}
}}
'''

    def _environment(self, variables: dict[str, Any], keep_aws: bool = False) -> dict[str, str]:
        dropped = ("TF_VAR_",) if keep_aws else ("AWS_", "TF_VAR_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
        if not keep_aws:
            env["AWS_EC2_METADATA_DISABLED"] = "true"
        mirror = find_provider_mirror()
        if mirror is not None:
            config = self.workdir / ".terraformrc"
            config.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
                '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n')
            env["TF_CLI_CONFIG_FILE"] = str(config)
        for name, value in variables.items():
            env[f"TF_VAR_{name}"] = value if isinstance(value, str) else json.dumps(value)
        return env

    def _run(self, *args: str, stream: bool = False) -> str:
        """Run one terraform command. A refused configuration (init, plan) raises ConfigurationError with
        Terraform's own text; a failure while changing things (apply, destroy) raises ApplyError."""
        if self._guard is not None:
            self._guard()  # before any process starts, so nothing is sent to a closed lab's endpoint
        command = [self.binary, *args]
        failure = ConfigurationError if args[0] in ("init", "plan", "validate") else ApplyError
        env = self._env
        if self._warm and args[0] != "init" and self._aws_only:
            reattach = warm_provider()
            if reattach is not None:
                env = {**env, "TF_REATTACH_PROVIDERS": reattach}
        if not stream:
            done = subprocess.run(command, cwd=self.workdir, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise failure(f"terraform {args[0]} failed:\n{(done.stderr or done.stdout).strip()}")
            return done.stdout
        lines = []
        with subprocess.Popen(command, cwd=self.workdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                self._out(line.rstrip("\n"))
        if process.returncode != 0:
            raise failure(f"terraform {args[0]} failed:\n{''.join(lines[-20:]).strip()}")
        return "".join(lines)

    def _init(self) -> None:
        if self._initialized:
            return
        if self._guard is not None:
            self._guard()  # before the shared init's process too
        shared = shared_init(self.binary or "terraform") if self._aws_only else None
        if shared is not None:
            lock, providers = self.workdir / ".terraform.lock.hcl", self.workdir / ".terraform" / "providers"
            if not lock.exists():
                shutil.copy2(shared / ".terraform.lock.hcl", lock)
            if not providers.exists():
                providers.parent.mkdir(parents=True, exist_ok=True)
                providers.symlink_to(shared / ".terraform" / "providers", target_is_directory=True)
        else:
            self._run("init", "-input=false", "-no-color")
        self._initialized = True

    # -- the Stack API --------------------------------------------------------------------------------
    def plan(self, target: str | None = None, destroy: bool = False) -> CLIPlan:
        self._init()
        extra = [f"-target={target}"] if target else []
        extra += ["-destroy"] if destroy else []
        return CLIPlan(self._run("plan", "-input=false", "-no-color", *extra))

    def apply(self, target: str | None = None) -> dict[str, Any]:
        self._init()
        extra = [f"-target={target}"] if target else []
        self._run("apply", "-input=false", "-no-color", "-auto-approve", *extra, stream=True)
        raw = json.loads(self._run("output", "-json") or "{}")
        self.outputs = {name: item.get("value") for name, item in raw.items()}
        return dict(self.outputs)

    def destroy(self) -> None:
        self._init()
        self._run("destroy", "-input=false", "-no-color", "-auto-approve", stream=True)
        self.outputs = {}

    @property
    def state(self) -> dict[str, dict[str, Any]]:
        self._init()
        shown = json.loads(self._run("show", "-json") or "{}")
        resources = shown.get("values", {}).get("root_module", {}).get("resources", [])
        return {r["address"]: {"type": r["type"], "name": r["name"], "attributes": r.get("values", {}),
                               "dependencies": r.get("depends_on", [])} for r in resources}

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


#: The workbook's provider requirement (``terraform/versions.tf``): what the one shared init is made for.
_AWS_ONLY = ('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
             '      version = "~> 5.0"\n    }\n  }\n}\n')
_SHARED_INITS: dict[tuple[str, str], Path | None] = {}


def _needs_only_the_aws_provider(workdir: Path) -> bool:
    """Whether ``terraform init`` in ``workdir`` would do nothing but install hashicorp/aws ``~> 5.0`` from
    the mirror: no module, backend or other provider, and every file read by kmslab's own parser (a file
    init would refuse gets the real init, and its error)."""
    from ._terraform._parse import parse_file

    if find_provider_mirror() is None or list(workdir.glob("*.tf.json")):
        return False
    for tf in workdir.glob("*.tf"):
        try:
            text = tf.read_text(encoding="utf-8")
            blocks = parse_file(text, tf.name)
        except Exception:  # noqa: BLE001 - unreadable here: let terraform init say what is wrong
            return False
        for block in blocks:
            if block.type == "module" or (block.type == "terraform" and (block.blocks_of("backend")
                                                                          or block.blocks_of("cloud"))):
                return False
            if block.type in ("resource", "data", "provider") and block.labels \
                    and block.labels[0].split("_", 1)[0] != "aws":
                return False  # another provider to install
            for required in (block.blocks_of("required_providers") if block.type == "terraform" else []):
                for name, attribute in required.attributes.items():
                    settings = _literal_items(attribute.expr)
                    if name != "aws" or settings is None:
                        return False
                    source = settings.get("source", "hashicorp/aws")
                    version = settings.get("version", "~> 5.0").replace(" ", "")
                    if source not in ("hashicorp/aws", "registry.terraform.io/hashicorp/aws") \
                            or version not in ("~>5.0", ">=5.0"):
                        return False
    return True


def shared_init(binary: str) -> Path | None:
    """A folder holding what ``terraform init`` writes for the AWS provider from the local mirror, made by
    one real ``init`` per process (None when it fails: each configuration then runs its own)."""
    mirror = find_provider_mirror()
    key = (binary, str(mirror))
    if key not in _SHARED_INITS:
        folder = Path(tempfile.mkdtemp(prefix="kmslab-terraform-init-"))
        atexit.register(shutil.rmtree, folder, True)
        (folder / "versions.tf").write_text(_AWS_ONLY)
        config = folder / ".terraformrc"
        config.write_text("provider_installation {\n"
                          f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n'
                          '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_VAR_"))}
        env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1",
                    "TF_CLI_CONFIG_FILE": str(config)})
        done = subprocess.run([binary, "init", "-input=false", "-no-color"], cwd=folder, env=env,
                              capture_output=True, text=True)
        ready = done.returncode == 0 and (folder / ".terraform.lock.hcl").is_file()
        _SHARED_INITS[key] = folder if ready else None
    return _SHARED_INITS[key]


def _literal_items(expr: Any) -> dict[str, str] | None:
    """``{ source = "...", version = "..." }`` as plain strings, or None for anything else."""
    items = getattr(expr, "items", None)
    if items is None:
        return None
    found: dict[str, str] = {}
    for key, value in items:
        name = getattr(key, "value", None)
        parts = getattr(value, "parts", None)
        if not isinstance(name, str) or not isinstance(parts, tuple) or not all(isinstance(p, str) for p in parts):
            return None
        found[name] = "".join(parts)
    return found


_WARM: dict[str, str | None] = {}


def warm_provider() -> str | None:
    """The ``TF_REATTACH_PROVIDERS`` value of an AWS provider process kept running for this process's
    terraform commands (started on first use from the local mirror; stopped when Python exits); None
    when there is none to start, it does not start, or ``KMSLAB_TF_WARM_PROVIDER=0``."""
    if os.environ.get("KMSLAB_TF_WARM_PROVIDER") == "0":
        return None
    mirror = find_provider_mirror()
    if mirror is None:
        return None
    key = str(mirror)
    if key not in _WARM:
        _WARM[key] = _start_warm_provider(mirror)
    return _WARM[key]


def _start_warm_provider(mirror: Path) -> str | None:
    import time
    binaries = sorted((mirror / "registry.terraform.io" / "hashicorp" / "aws").glob("*/*/terraform-provider-aws*"))
    if len(binaries) != 1:  # none, or several versions: which one a configuration locks is init's to say
        return None
    log = Path(tempfile.mkstemp(prefix="kmslab-terraform-provider-", suffix=".log")[1])
    with log.open("wb") as sink:
        process = subprocess.Popen([str(binaries[0]), "-debug"], stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.unlink(missing_ok=True)

    atexit.register(stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text(errors="replace")
        start = text.find("TF_REATTACH_PROVIDERS='")
        if start >= 0 and text.find("'", start + 23) > 0:
            value = text[start + 23:text.find("'", start + 23)]
            try:
                json.loads(value)
            except ValueError:
                break
            return value
        time.sleep(0.05)
    stop()
    return None
