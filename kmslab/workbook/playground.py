"""The playground of notebook 04: the five settings that decide whether ``dynamo_test_user`` can scan.

Applying a setting really changes the lab (IAM policies, the key policy, the key state) through boto3 as
``lab-admin``, then runs the user's real ``Scan`` and reports each lock.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from .._lab import ADMIN_USER, Lab
from ._observable import Observable
from ._wrap import wrap
from .steps import FULL_ACCESS_ARN, TABLE_NAME, USER_NAME, VIA_DYNAMODB, dynamodb_context, key_arn


@dataclass(frozen=True)
class PlaygroundSettings:
    """The five things that decide whether the user's Scan works."""

    dynamodb_permission: bool = True
    kms_in_iam: bool = False
    root_delegation: bool = True
    key_policy_for_user: bool = False
    key_enabled: bool = True

    LABELS = {
        "dynamodb_permission": "DynamoDB permission for the user (AmazonDynamoDBFullAccess attached)",
        "kms_in_iam": "KMS permission in IAM (a user policy allowing kms:Decrypt on the key)",
        "root_delegation": "Root delegation in the key policy (the account may use IAM to grant access)",
        "key_policy_for_user": "A key-policy statement for the user (kms:Decrypt through DynamoDB)",
        "key_enabled": "Key enabled",
    }

    def items(self) -> list[tuple[str, bool]]:
        return [(name, getattr(self, name)) for name in self.LABELS]

    def text(self) -> str:
        return "\n".join(f"  [{'✔' if on else ' '}] {'ON ' if on else 'OFF'}  {self.LABELS[name]}"
                         for name, on in self.items())


@dataclass(frozen=True)
class LockReport:
    """One lock, evaluated on its own (even when an earlier one already refused)."""

    name: str
    passed: bool
    summary: str

    def text(self) -> str:
        return wrap(f"  {'✔ open  ' if self.passed else '✘ closed'}  {self.name}: {self.summary}")


@dataclass(frozen=True)
class PlaygroundResult:
    """What one try of the playground did and saw."""

    settings: PlaygroundSettings
    changes: tuple[str, ...]
    allowed: bool
    item_count: int | None
    error_code: str | None
    error_message: str | None
    locks: tuple[LockReport, ...]
    explanation: Any  # the CallExplanation of the real Scan
    waited: bool = True

    @property
    def headline(self) -> str:
        if self.allowed:
            return f"✔ ALLOWED: the Scan returned {self.item_count} item(s)"
        return f"✘ REFUSED: {self.error_code}"

    def text(self) -> str:
        lines = [f"Scan of {TABLE_NAME} as {USER_NAME}: {self.headline}", "", "Settings:", self.settings.text()]
        lines += ["", "What changed in the lab (boto3 calls as lab-admin):"]
        lines += [f"  - {c}" for c in self.changes] or ["  - nothing"]
        if self.waited:
            lines.append("  - then 5 minutes of lab time passed, so DynamoDB asked KMS afresh")
        lines += ["", "The locks, each checked on its own:"] + [lock.text() for lock in self.locks]
        if self.error_message:
            lines += ["", "What AWS said:", f"  {self.error_message}"]
        if self.explanation is not None:
            lines += ["", "How the real call went, lock by lock:"]
            lines += [f"  {line}" for line in str(self.explanation).splitlines()]
        return wrap("\n".join(lines))

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        e = html.escape
        settings = "".join(f"<li>{'✔ ON' if on else '✘ OFF'}: {e(PlaygroundSettings.LABELS[name])}</li>"
                           for name, on in self.settings.items())
        changes = "".join(f"<li>{e(c)}</li>" for c in self.changes) or "<li>nothing</li>"
        if self.waited:
            changes += "<li>then 5 minutes of lab time passed, so DynamoDB asked KMS afresh</li>"
        locks = "".join(f"<li><strong>{'✔ open' if lock.passed else '✘ closed'}: {e(lock.name)}</strong> — "
                        f"{e(lock.summary)}</li>" for lock in self.locks)
        said = f"<p>What AWS said: <code>{e(self.error_message)}</code></p>" if self.error_message else ""
        return (f"<div class='kmslab-playground-result' role='status'>"
                f"<p><strong>Scan of {e(TABLE_NAME)} as {e(USER_NAME)}: {e(self.headline)}</strong></p>"
                f"<p>Settings:</p><ul>{settings}</ul><p>What changed in the lab (boto3 calls as lab-admin):</p>"
                f"<ul>{changes}</ul><p>The locks, each checked on its own:</p><ul>{locks}</ul>{said}</div>")


class Playground(Observable):
    """Toggle the five settings; see the user's real Scan and every lock.

    Changes are made through boto3 as ``lab-admin``: AttachUserPolicy/DetachUserPolicy,
    PutUserPolicy/DeleteUserPolicy, PutKeyPolicy, EnableKey/DisableKey. Every key policy the playground
    writes keeps a key-administrators statement for ``lab-admin`` (as the KMS console's default does), so
    that KMS's lockout safety check accepts it and the admin can always switch things back; that statement
    allows managing the key, not using it.
    """

    IAM_POLICY_NAME = "playground-kms-decrypt"
    USER_SID = "AllowTheTestUserThroughDynamoDB"
    ROOT_SID = "Enable IAM User Permissions"
    ADMIN_SID = "Allow access for Key Administrators"
    ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                     "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                     "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"]

    def __init__(self, lab: Lab, user: str = USER_NAME, table: str = TABLE_NAME) -> None:
        super().__init__()
        self.lab = lab
        self.user = user
        self.table = table
        self.key_arn = key_arn(lab)
        # moto's EnableKey/DisableKey accept only the key ID (AWS also takes the ARN)
        self.key_id = self.key_arn.rsplit("/", 1)[-1]
        self.user_arn = f"arn:aws:iam::{lab.account_id}:user/{user}"
        self.settings = self.read_settings()
        self.result: PlaygroundResult | None = None

    # reading the lab ---------------------------------------------------------------------------------
    def read_settings(self) -> PlaygroundSettings:
        """The settings as the lab holds them now (read through boto3 as lab-admin)."""
        iam = self.lab.client("iam")
        kms = self.lab.client("kms")
        attached = [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=self.user)["AttachedPolicies"]]
        inline = iam.list_user_policies(UserName=self.user)["PolicyNames"]
        policy = json.loads(kms.get_key_policy(KeyId=self.key_arn, PolicyName="default")["Policy"])
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        root = f"arn:aws:iam::{self.lab.account_id}:root"

        def names(statement: dict[str, Any], who: str) -> bool:
            principal = statement.get("Principal")
            values = principal.get("AWS", []) if isinstance(principal, dict) else [principal]
            values = [values] if isinstance(values, str) else values
            return statement.get("Effect") == "Allow" and who in values

        state = kms.describe_key(KeyId=self.key_arn)["KeyMetadata"]["KeyState"]
        return PlaygroundSettings(
            dynamodb_permission=FULL_ACCESS_ARN in attached,
            kms_in_iam=self.IAM_POLICY_NAME in inline,
            root_delegation=any(names(s, root) or names(s, self.lab.account_id) for s in statements),
            key_policy_for_user=any(names(s, self.user_arn) for s in statements),
            key_enabled=state == "Enabled",
        )

    # changing the lab --------------------------------------------------------------------------------
    def key_policy(self, settings: PlaygroundSettings) -> dict[str, Any]:
        """The key policy the playground writes for ``settings``."""
        account = self.lab.account_id
        statements: list[dict[str, Any]] = []
        if settings.root_delegation:
            statements.append({"Sid": self.ROOT_SID, "Effect": "Allow",
                               "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                               "Action": "kms:*", "Resource": "*"})
        statements.append({"Sid": self.ADMIN_SID, "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{account}:user/{ADMIN_USER}"},
                           "Action": list(self.ADMIN_ACTIONS), "Resource": "*"})
        if settings.key_policy_for_user:
            statements.append({"Sid": self.USER_SID, "Effect": "Allow", "Principal": {"AWS": self.user_arn},
                               "Action": "kms:Decrypt", "Resource": "*",
                               "Condition": {"StringEquals": {"kms:ViaService": VIA_DYNAMODB}}})
        return {"Version": "2012-10-17", "Id": "kmslab-playground", "Statement": statements}

    def iam_policy(self) -> dict[str, Any]:
        """The user policy the "KMS permission in IAM" setting puts on the user."""
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": self.key_arn}]}

    def _change(self, new: PlaygroundSettings) -> list[str]:
        old = self.read_settings()
        iam = self.lab.client("iam")
        kms = self.lab.client("kms")
        done = []
        if new.dynamodb_permission != old.dynamodb_permission:
            if new.dynamodb_permission:
                iam.attach_user_policy(UserName=self.user, PolicyArn=FULL_ACCESS_ARN)
                done.append(f"iam.attach_user_policy: AmazonDynamoDBFullAccess to {self.user}")
            else:
                iam.detach_user_policy(UserName=self.user, PolicyArn=FULL_ACCESS_ARN)
                done.append(f"iam.detach_user_policy: AmazonDynamoDBFullAccess from {self.user}")
        if new.kms_in_iam != old.kms_in_iam:
            if new.kms_in_iam:
                iam.put_user_policy(UserName=self.user, PolicyName=self.IAM_POLICY_NAME,
                                    PolicyDocument=json.dumps(self.iam_policy()))
                done.append(f"iam.put_user_policy: {self.IAM_POLICY_NAME} (kms:Decrypt on the key) on {self.user}")
            else:
                iam.delete_user_policy(UserName=self.user, PolicyName=self.IAM_POLICY_NAME)
                done.append(f"iam.delete_user_policy: {self.IAM_POLICY_NAME} from {self.user}")
        if (new.root_delegation, new.key_policy_for_user) != (old.root_delegation, old.key_policy_for_user):
            kms.put_key_policy(KeyId=self.key_arn, PolicyName="default",
                               Policy=json.dumps(self.key_policy(new)))
            parts = [("with" if new.root_delegation else "without") + " root delegation",
                     ("with" if new.key_policy_for_user else "without") + " a statement for the user",
                     "with the key-administrators statement for lab-admin"]
            done.append("kms.put_key_policy: " + ", ".join(parts))
        if new.key_enabled != old.key_enabled:
            if new.key_enabled:
                kms.enable_key(KeyId=self.key_id)
                done.append("kms.enable_key")
            else:
                kms.disable_key(KeyId=self.key_id)
                done.append("kms.disable_key")
        return done

    def apply(self, settings: PlaygroundSettings | None = None, **changes: bool) -> PlaygroundResult:
        """Make the lab match ``settings`` (or the current settings with ``changes``), then scan as the user."""
        unknown = set(changes) - set(PlaygroundSettings.LABELS)
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(sorted(unknown))}: choose from "
                            f"{', '.join(PlaygroundSettings.LABELS)}")
        target = replace(settings or self.settings, **changes)
        done = self._change(target)
        self.settings = self.read_settings()
        self.lab.advance(minutes=5)
        self.result = self._scan(tuple(done))
        self._notify(self.result)
        return self.result

    def set(self, **changes: bool) -> PlaygroundResult:
        """Change some settings and try again: ``playground.set(root_delegation=False)``."""
        return self.apply(None, **changes)

    # observing the outcome ---------------------------------------------------------------------------
    def locks(self) -> tuple[LockReport, ...]:
        """Each lock evaluated on its own, with the policies in force now."""
        dynamodb = self.lab.explain(self.user, "dynamodb:Scan", self.table)
        kms_decision = self.lab.explain(self.user, "kms:Decrypt", self.key_arn,
                                        context=dynamodb_context(self.table, self.lab.account_id,
                                                                 self.lab.region))
        state = self.lab.client("kms").describe_key(KeyId=self.key_arn)["KeyMetadata"]["KeyState"]
        return (
            LockReport("DynamoDB permission (dynamodb:Scan on the table)", dynamodb.allowed,
                       _decision_line(dynamodb)),
            LockReport("KMS key permission (kms:Decrypt that DynamoDB makes for the user)", kms_decision.allowed,
                       _decision_line(kms_decision)),
            LockReport("Key state", state == "Enabled",
                       f"the key is {state}" + ("" if state == "Enabled" else
                                                "; KMS refuses every cryptographic operation")),
        )

    def _scan(self, changes: tuple[str, ...]) -> PlaygroundResult:
        client = self.lab.session_for(self.user).client("dynamodb")
        count = code = message = None
        try:
            count = client.scan(TableName=self.table)["Count"]
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"]["Message"]
        scans = self.lab.trail.filter(event="Scan", user=self.user)
        explanation = self.lab.explanation(scans[-1]["eventID"]) if len(scans) else None
        return PlaygroundResult(self.settings, changes, code is None, count, code, message, self.locks(),
                                explanation)

    # renderings --------------------------------------------------------------------------------------
    def text(self) -> str:
        lines = [f"Playground: can {self.user} scan {self.table}?", "Settings now:", self.settings.text()]
        if self.result is None:
            lines.append("(No try yet: change a setting and press \"Apply and scan\", or call .set(...).)")
        else:
            lines += ["", "Last try:", self.result.headline]
        return wrap("\n".join(lines))

    def __repr__(self) -> str:
        return self.text()

    def widget(self) -> Any:
        """The interactive view: five checkboxes, an "Apply and scan" button, the outcome."""
        from .views import PlaygroundView
        return PlaygroundView(self)


def _decision_line(decision: Any) -> str:
    if decision.allowed:
        sources = [m.source for m in getattr(decision, "matched", ()) if getattr(m, "effect", "Allow") == "Allow"]
        locks = [f"{lock.name} {lock.state}" for lock in getattr(decision, "locks", ()) if lock.state != "not used"]
        text = f"allowed by {'; '.join(sources)}" if sources else "allowed"
        return text + (f" ({', '.join(locks)})" if locks else "")
    locks = [f"{lock.name} {lock.state}" for lock in getattr(decision, "locks", ()) if lock.state != "not used"]
    return f"{decision.reason}" + (f" ({', '.join(locks)})" if locks else "")
