"""Provider aliases and the ``provider`` meta-argument (issue 14 item 5, issue 16 point 6).

An aliased ``provider "aws"`` block with no identity or region of its own is the same account and region
as the default one, and the embedded applier uses the Stack's session for it; ``Stack(...,
providers={"partner": session})`` gives an alias a session of its own (a second account); anything else
is refused as not modelled, at the resource that uses the alias. Terraform's own refusals were compared
with terraform 1.11.4 on this machine (``terraform validate``).
"""

from __future__ import annotations

import _tf_helpers
import boto3
import pytest
from _tf_helpers import Lines, write_config

from kmslab import UnsupportedError, ValidationError
from kmslab._terraform import Stack, State

_moto_for_module = _tf_helpers._moto_for_module
aws_session = _tf_helpers.aws_session

PARTNER = '''
provider "aws" {
  alias = "partner"
%(settings)s
}
data "aws_caller_identity" "partner" {
  provider = aws.partner
}
resource "aws_iam_user" "partner" {
  provider = aws.partner
  name     = "partner-reader"
  tags     = { account = data.aws_caller_identity.partner.account_id }
}
resource "aws_iam_user" "home" {
  name = "home-reader"
}
'''


def _config(tmp_path, settings=""):
    return write_config(tmp_path / "cfg", PARTNER % {"settings": settings})


def _partner_session(session, account="111122223333"):
    """A session in another account: moto answers AssumeRole into any account with credentials of that account."""
    credentials = session.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/partner",
                                                    RoleSessionName="kmslab-test")["Credentials"]
    return boto3.Session(region_name=session.region_name, aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])


def test_an_alias_with_no_identity_of_its_own_uses_the_stacks_session(aws_session, tmp_path):
    """Same account, same region: both users land in the one account; the state records the alias, as
    Terraform's state names each resource's provider configuration."""
    state = State()
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).apply()
    users = {u["UserName"] for u in aws_session.client("iam").list_users()["Users"]}
    assert users == {"partner-reader", "home-reader"}
    assert state.resources["aws_iam_user.partner"]["provider"] == "partner"
    assert "provider" not in state.resources["aws_iam_user.home"]
    Stack(_config(tmp_path), session=aws_session, out=Lines(), state=state).destroy()
    assert aws_session.client("iam").list_users()["Users"] == []


def test_a_session_given_for_the_alias_is_a_second_account(aws_session, tmp_path):
    """With providers={"partner": session}, the partner's resources and data sources go through that session:
    the user is created in account 111122223333 and its data source reads that account; refresh and destroy
    use it too."""
    partner = _partner_session(aws_session)
    state = State()
    Stack(_config(tmp_path, '  assume_role {\n    role_arn = "arn:aws:iam::111122223333:role/partner"\n  }'),
          session=aws_session, out=Lines(), state=state, providers={"partner": partner}).apply()
    assert [u["UserName"] for u in aws_session.client("iam").list_users()["Users"]] == ["home-reader"]
    created = partner.client("iam").get_user(UserName="partner-reader")["User"]
    assert created["Arn"] == "arn:aws:iam::111122223333:user/partner-reader"
    assert state.resources["aws_iam_user.partner"]["attributes"]["tags"] == {"account": "111122223333"}
    again = Stack(_config(tmp_path, '  assume_role {\n    role_arn = "arn:aws:iam::111122223333:role/partner"\n  }'),
                  session=aws_session, out=Lines(), state=state, providers={"partner": partner})
    assert again.plan().summary.startswith("No changes.")
    again.destroy()
    assert partner.client("iam").list_users()["Users"] == []


@pytest.mark.parametrize(("settings", "why"), [
    ('  assume_role {\n    role_arn = "arn:aws:iam::111122223333:role/partner"\n  }', "sets assume_role"),
    ('  access_key = "AKIA0000000000000000"\n  secret_key = "x"', "sets access_key"),
    ('  profile = "partner"', "sets profile"),
    ('  region = "eu-west-1"', "is in region eu-west-1, and the lab's session is in us-east-1"),
    ('  default_tags {\n    tags = { a = "b" }\n  }', "default_tags in provider \"aws\" with alias \"partner\""),
])
def test_an_alias_the_lab_has_no_session_for_is_not_modelled(aws_session, tmp_path, settings, why):
    """Another identity (credentials, a profile, a role to assume) or another region: the real provider would
    reach another account or region, which the lab does not have; refused before any AWS call, at the resource."""
    folder = _config(tmp_path, settings)
    with pytest.raises(UnsupportedError, match='use engine="terraform"') as caught:
        Stack(folder, session=aws_session, out=Lines())
    first_user = (folder / "main.tf").read_text().splitlines().index('data "aws_caller_identity" "partner" {') + 1
    assert why in caught.value.message and caught.value.line == first_user
    assert aws_session.client("iam").list_users()["Users"] == []


def test_an_undeclared_alias_is_terraforms_provider_configuration_not_present(tmp_path):
    text = 'resource "aws_iam_user" "u" {\n  provider = aws.nobody\n  name = "u"\n}\n'
    with pytest.raises(ValidationError, match=r'Provider configuration not present: To work with aws_iam_user.u its '
                                              r'original provider configuration at provider\["registry.terraform.io/'
                                              r'hashicorp/aws"\].nobody is required'):
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())


@pytest.mark.parametrize("reference", ["aws.partner.x", "aws.partner[0]", "1"])
def test_a_malformed_provider_reference_is_terraforms_error(tmp_path, reference):
    text = ('provider "aws" {\n  alias = "partner"\n}\n'
            f'resource "aws_iam_user" "u" {{\n  provider = {reference}\n  name = "u"\n}}\n')
    with pytest.raises(ValidationError, match="Invalid provider configuration reference: The provider argument "
                                              "requires a provider type name") as caught:
        Stack(write_config(tmp_path / "cfg", text), session=None, out=Lines())
    assert caught.value.line == 5


def test_the_quoted_form_and_the_plain_provider_name_are_accepted(aws_session, tmp_path):
    """Terraform accepts provider = "aws.partner" (with a deprecation warning) and provider = aws (the default)."""
    text = ('provider "aws" {\n  alias = "partner"\n}\n'
            'resource "aws_iam_user" "q" {\n  provider = "aws.partner"\n  name = "q"\n}\n'
            'resource "aws_iam_user" "d" {\n  provider = aws\n  name = "d"\n}\n')
    state = State()
    Stack(write_config(tmp_path / "cfg", text), session=aws_session, out=Lines(), state=state).apply()
    assert state.resources["aws_iam_user.q"]["provider"] == "partner"
    assert "provider" not in state.resources["aws_iam_user.d"]


def test_a_repeated_alias_and_another_provider_type(tmp_path):
    repeated = 'provider "aws" {\n  alias = "p"\n}\nprovider "aws" {\n  alias = "p"\n}\n'
    with pytest.raises(ValidationError, match='Duplicate provider configuration: A provider configuration for "aws" '
                                              'with alias "p" was already given'):
        Stack(write_config(tmp_path / "one", repeated), session=None, out=Lines())
    other = 'resource "aws_iam_user" "u" {\n  provider = random.x\n  name = "u"\n}\n'
    with pytest.raises(UnsupportedError, match='The provider "random" is not modelled'):
        Stack(write_config(tmp_path / "two", other), session=None, out=Lines())


def test_the_cli_engine_points_every_aliased_provider_at_the_lab(tmp_path):
    """The override file has one block per alias, so an aliased provider cannot reach real AWS from the lab."""
    from kmslab._tfcli import TerraformCLIStack

    folder = _config(tmp_path)
    stack = TerraformCLIStack.__new__(TerraformCLIStack)
    stack.workdir = tmp_path / "work"
    stack.workdir.mkdir()
    from kmslab._tfcli import _aliases
    stack._write_override("http://127.0.0.1:1", "a", "b", "us-east-1", _aliases(folder))
    text = (stack.workdir / "kmslab_override.tf").read_text()
    assert text.count('provider "aws" {') == 2 and 'alias                       = "partner"' in text
    assert text.count('iam      = "http://127.0.0.1:1"') == 2


def test_the_default_providers_default_tags_do_not_reach_an_aliased_providers_resources(aws_session, tmp_path):
    """default_tags are a setting of one provider configuration: the aliased provider has none here, so its
    user gets only its own tags, while the default provider's user gets the default tags."""
    text = ('provider "aws" {\n  default_tags {\n    tags = { owner = "lab" }\n  }\n}\n'
            'provider "aws" {\n  alias = "partner"\n}\n'
            'resource "aws_iam_user" "home" {\n  name = "home"\n}\n'
            'resource "aws_iam_user" "partner" {\n  provider = aws.partner\n  name = "partner"\n  tags = { a = "b" }\n}\n')
    state = State()
    Stack(write_config(tmp_path / "cfg", text), session=aws_session, out=Lines(), state=state).apply()
    iam = aws_session.client("iam")
    assert iam.list_user_tags(UserName="home")["Tags"] == [{"Key": "owner", "Value": "lab"}]
    assert iam.list_user_tags(UserName="partner")["Tags"] == [{"Key": "a", "Value": "b"}]
    assert state.resources["aws_iam_user.partner"]["attributes"]["tags_all"] == {"a": "b"}
