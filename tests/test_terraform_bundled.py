"""The bundled ``terraform/`` configuration: what it declares, and that the real CLI accepts it.

The CLI check runs ``terraform init`` and ``terraform validate`` offline, against a local mirror of
the AWS provider; where the CLI or the mirror is missing it skips and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from _tf_helpers import BUNDLED, FIXTURES

from kmslab._terraform._parse import parse_directory
from kmslab._tfcli import find_provider_mirror, terraform_available

AVAILABLE, WHY_NOT = terraform_available()


def test_bundled_addresses_are_the_ones_the_workbook_uses():
    config = parse_directory(BUNDLED)
    assert sorted(config.resources) == [
        "aws_dynamodb_table.encrypted_table",
        "aws_iam_access_key.dynamo_test_user",
        "aws_iam_user.dynamo_test_user",
        "aws_iam_user_policy_attachment.dynamo_full_access",
        "aws_kms_key.dynamodb_key",
    ]
    assert sorted(config.outputs) == ["dynamodb_table_name", "kms_key_arn", "kms_key_id", "test_user_access_key_id",
                                      "test_user_arn", "test_user_name", "test_user_secret_access_key"]
    assert config.outputs["test_user_secret_access_key"].sensitive
    assert config.files == ("dynamodb.tf", "iam.tf", "kms.tf", "outputs.tf", "providers.tf", "variables.tf",
                            "versions.tf")
    table = config.resources["aws_dynamodb_table.encrypted_table"].body
    assert "read_capacity" not in table.attributes and "write_capacity" not in table.attributes


@pytest.mark.skipif(not AVAILABLE, reason=f"terraform validate skipped: {WHY_NOT}")
@pytest.mark.parametrize("directory", [BUNDLED, FIXTURES / "good_everything"], ids=["bundled", "good_everything"])
def test_real_terraform_validates(tmp_path, directory):
    work = shutil.copytree(directory, tmp_path / "cfg", ignore=shutil.ignore_patterns("*.md", ".terraform*"))
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text('provider_installation {\n  filesystem_mirror {\n'
                          f'    path = "{find_provider_mirror()}"\n  }}\n}}\n')
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1", "TF_DATA_DIR": str(tmp_path / ".terraform")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["terraform", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    init = run("init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run("validate", "-json", "-no-color")
    report = json.loads(validate.stdout)
    assert report["valid"], report["diagnostics"]
    assert report["error_count"] == 0
