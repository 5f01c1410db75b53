"""The closed world: every operation a lab client can call, and what the lab does with it.

One table, one line per operation of each service the lab emulates (DynamoDB, DynamoDB Streams, KMS, IAM,
STS). Each operation is either *modelled*, in which case the enforcement point authorizes it with its own
IAM action on its resource and does the KMS work AWS does for it (the ``kind`` says how), or *refused*
before the emulator sees it, with an error that names the operation and the reason. Nothing reaches the
emulator unclassified: an operation missing here (a new boto3 or moto) is answered as AWS answers an
unknown operation, and ``tests/test_operations.py`` walks botocore's service models so that the suite
fails until someone classifies it.

Kinds (how :mod:`kmslab._enforce` treats a modelled operation):

``item``
    DynamoDB reads and writes of items: the table permission, then the ``kms:Decrypt`` DynamoDB makes for
    the caller (unless the connection holds the table key).
``table`` / ``account``
    Authorized on the table's ARN (``TableName`` or ``ResourceArn``) / on ``*``; no KMS work.
``create-table`` / ``update-table`` / ``delete-table``
    The table's own lifecycle: choosing or switching the key, DynamoDB's grants, the status it passes through.
``create-backup`` / ``backup`` / ``restore-backup`` / ``restore-pitr``
    Backups (authorized on the table, or on the backup's ARN) and restores, which need the backup's key.
``key`` / ``key-account``
    KMS operations on one key (key policy, IAM and grants decide) / on ``*`` (IAM alone).
``iam`` / ``sts`` / ``free``
    IAM and STS operations authorized by identity policies (``sts:AssumeRole`` also by the role's trust
    policy, on the role's ARN); ``free`` needs no permission at all
    (``sts:GetCallerIdentity``, IAM User Guide: "No permissions are required to perform this operation").
``refused``
    Not modelled: the ``note`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Why an operation is refused, by short tag (the table below uses the tags).
REASONS = {
    "emulator": "the lab's emulator does not implement it",
    "global": "global tables and replicas are not modelled",
    "s3": "exports and imports through Amazon S3 are not modelled",
    "streams": "reading DynamoDB Streams is not modelled",
    "kinesis": "Kinesis Data Streams destinations are not modelled",
    "insights": "CloudWatch Contributor Insights is not modelled",
    "bulk": "bulk operations are not modelled",
    "vectors": "vector search is not modelled",
    "autoscaling": "Application Auto Scaling is not modelled",
    "keystore": "custom key stores are not modelled",
    "import": "imported key material is not modelled",
    "multiregion": "multi-Region keys are not modelled",
    "keyagreement": "key agreement and key encapsulation are not modelled",
    "boundary": "the lab's emulator keeps no user's permissions boundary after it is created (give it at "
                "CreateUser; a role's boundary can be put and deleted)",
    "sessions": "of the temporary security credentials only AssumeRole's role sessions are modelled",
    "organizations": "AWS Organizations features are not modelled",
    "delegation": "delegation requests are not modelled",
}

_TABLE = """
# service          operation                                      kind            reason
dynamodb           BatchExecuteStatement                          item
dynamodb           BatchGetItem                                   item
dynamodb           BatchWriteItem                                 item
dynamodb           CancelBulkOperation                            refused         bulk
dynamodb           CreateBackup                                   create-backup
dynamodb           CreateGlobalTable                              refused         global
dynamodb           CreateTable                                    create-table
dynamodb           DeleteBackup                                   backup
dynamodb           DeleteItem                                     item
dynamodb           DeleteResourcePolicy                           table
dynamodb           DeleteTable                                    delete-table
dynamodb           DescribeBackup                                 backup
dynamodb           DescribeBulkOperation                          refused         bulk
dynamodb           DescribeContinuousBackups                      table
dynamodb           DescribeContributorInsights                    refused         insights
dynamodb           DescribeEndpoints                              account
dynamodb           DescribeExport                                 refused         s3
dynamodb           DescribeGlobalTable                            refused         global
dynamodb           DescribeGlobalTableSettings                    refused         global
dynamodb           DescribeImport                                 refused         s3
dynamodb           DescribeKinesisStreamingDestination            refused         kinesis
dynamodb           DescribeLimits                                 account
dynamodb           DescribeTable                                  table
dynamodb           DescribeTableReplicaAutoScaling                refused         autoscaling
dynamodb           DescribeTimeToLive                             table
dynamodb           DisableKinesisStreamingDestination             refused         kinesis
dynamodb           EnableKinesisStreamingDestination              refused         kinesis
dynamodb           ExecuteStatement                               item
dynamodb           ExecuteTransaction                             item
dynamodb           ExportTableToPointInTime                       refused         s3
dynamodb           GetItem                                        item
dynamodb           GetResourcePolicy                              table
dynamodb           ImportTable                                    refused         s3
dynamodb           ListBackups                                    account
dynamodb           ListBulkOperations                             refused         bulk
dynamodb           ListContributorInsights                        refused         insights
dynamodb           ListExports                                    refused         s3
dynamodb           ListGlobalTables                               refused         global
dynamodb           ListImports                                    refused         s3
dynamodb           ListTables                                     account
dynamodb           ListTagsOfResource                             table
dynamodb           PutItem                                        item
dynamodb           PutResourcePolicy                              table
dynamodb           Query                                          item
dynamodb           RestoreTableFromBackup                         restore-backup
dynamodb           RestoreTableToPointInTime                      restore-pitr
dynamodb           Scan                                           item
dynamodb           SearchVectors                                  refused         vectors
dynamodb           StartBulkPutItems                              refused         bulk
dynamodb           TagResource                                    table
dynamodb           TransactGetItems                               item
dynamodb           TransactWriteItems                             item
dynamodb           UntagResource                                  table
dynamodb           UpdateContinuousBackups                        table
dynamodb           UpdateContributorInsights                      refused         insights
dynamodb           UpdateGlobalTable                              refused         global
dynamodb           UpdateGlobalTableSettings                      refused         global
dynamodb           UpdateItem                                     item
dynamodb           UpdateKinesisStreamingDestination              refused         kinesis
dynamodb           UpdateTable                                    update-table
dynamodb           UpdateTableReplicaAutoScaling                  refused         autoscaling
dynamodb           UpdateTimeToLive                               table
dynamodbstreams    DescribeStream                                 refused         streams
dynamodbstreams    GetRecords                                     refused         streams
dynamodbstreams    GetShardIterator                               refused         streams
dynamodbstreams    ListStreams                                    refused         streams
kms                CancelKeyDeletion                              key
kms                ConnectCustomKeyStore                          refused         keystore
kms                CreateAlias                                    key
kms                CreateCustomKeyStore                           refused         keystore
kms                CreateGrant                                    key
kms                CreateKey                                      key-account
kms                Decapsulate                                    refused         keyagreement
kms                Decrypt                                        key
kms                DeleteAlias                                    key
kms                DeleteCustomKeyStore                           refused         keystore
kms                DeleteImportedKeyMaterial                      refused         import
kms                DeriveSharedSecret                             refused         keyagreement
kms                DescribeCustomKeyStores                        refused         keystore
kms                DescribeKey                                    key
kms                DisableKey                                     key
kms                DisableKeyRotation                             key
kms                DisconnectCustomKeyStore                       refused         keystore
kms                EnableKey                                      key
kms                EnableKeyRotation                              key
kms                Encapsulate                                    refused         keyagreement
kms                Encrypt                                        key
kms                GenerateDataKey                                key
kms                GenerateDataKeyPair                            refused         emulator
kms                GenerateDataKeyPairWithoutPlaintext            refused         emulator
kms                GenerateDataKeyWithoutPlaintext                key
kms                GenerateMac                                    key
kms                GenerateRandom                                 key-account
kms                GetKeyLastUsage                                refused         emulator
kms                GetKeyPolicy                                   key
kms                GetKeyRotationStatus                           key
kms                GetParametersForImport                         refused         import
kms                GetPublicKey                                   key
kms                ImportKeyMaterial                              refused         import
kms                ListAliases                                    key-account
kms                ListGrants                                     key
kms                ListKeyPolicies                                key
kms                ListKeyRotations                               key
kms                ListKeys                                       key-account
kms                ListResourceTags                               key
kms                ListRetirableGrants                            key-account
kms                PutKeyPolicy                                   key
kms                ReEncrypt                                      key
kms                ReplicateKey                                   refused         multiregion
kms                RetireGrant                                    key
kms                RevokeGrant                                    key
kms                RotateKeyOnDemand                              key
kms                ScheduleKeyDeletion                            key
kms                Sign                                           key
kms                TagResource                                    key
kms                UntagResource                                  key
kms                UpdateAlias                                    key
kms                UpdateCustomKeyStore                           refused         keystore
kms                UpdateKeyDescription                           key
kms                UpdatePrimaryRegion                            refused         multiregion
kms                Verify                                         key
kms                VerifyMac                                      key
sts                AssumeRole                                     sts
sts                AssumeRoleWithSAML                             refused         sessions
sts                AssumeRoleWithWebIdentity                      refused         sessions
sts                AssumeRoot                                     refused         sessions
sts                DecodeAuthorizationMessage                     refused         emulator
sts                GetAccessKeyInfo                               sts
sts                GetCallerIdentity                              free
sts                GetDelegatedAccessToken                        refused         sessions
sts                GetFederationToken                             refused         sessions
sts                GetScopedCredentials                           refused         sessions
sts                GetSessionToken                                refused         sessions
sts                GetWebIdentityToken                            refused         sessions
"""

#: IAM operations the emulator implements: each is authorized with ``iam:<Operation>`` on its resource.
_IAM_MODELLED = """
AddRoleToInstanceProfile AddUserToGroup AttachGroupPolicy AttachRolePolicy AttachUserPolicy CreateAccessKey
CreateAccountAlias CreateGroup CreateInstanceProfile CreateLoginProfile CreateOpenIDConnectProvider CreatePolicy
CreatePolicyVersion CreateRole CreateSAMLProvider CreateServiceLinkedRole CreateUser CreateVirtualMFADevice
DeactivateMFADevice DeleteAccessKey DeleteAccountAlias DeleteAccountPasswordPolicy DeleteGroup DeleteGroupPolicy
DeleteInstanceProfile DeleteLoginProfile DeleteOpenIDConnectProvider DeletePolicy DeletePolicyVersion DeleteRole
DeleteRolePermissionsBoundary DeleteRolePolicy DeleteSAMLProvider DeleteSSHPublicKey DeleteServerCertificate DeleteServiceLinkedRole
DeleteSigningCertificate DeleteUser DeleteUserPolicy DeleteVirtualMFADevice DetachGroupPolicy DetachRolePolicy
DetachUserPolicy EnableMFADevice GenerateCredentialReport GetAccessKeyLastUsed GetAccountAuthorizationDetails
GetAccountPasswordPolicy GetAccountSummary GetCredentialReport GetGroup GetGroupPolicy GetInstanceProfile
GetLoginProfile GetOpenIDConnectProvider GetPolicy GetPolicyVersion GetRole GetRolePolicy GetSAMLProvider
GetSSHPublicKey GetServerCertificate GetServiceLinkedRoleDeletionStatus GetUser GetUserPolicy ListAccessKeys
ListAccountAliases ListAttachedGroupPolicies ListAttachedRolePolicies ListAttachedUserPolicies
ListEntitiesForPolicy ListGroupPolicies ListGroups ListGroupsForUser ListInstanceProfiles
ListInstanceProfilesForRole ListMFADevices ListOpenIDConnectProviderTags ListOpenIDConnectProviders ListPolicies
ListPolicyTags ListPolicyVersions ListRolePolicies ListRoleTags ListRoles ListSAMLProviders ListSSHPublicKeys
ListServerCertificates ListSigningCertificates ListUserPolicies ListUserTags ListUsers ListVirtualMFADevices
PutGroupPolicy PutRolePermissionsBoundary PutRolePolicy PutUserPolicy RemoveRoleFromInstanceProfile RemoveUserFromGroup
SetDefaultPolicyVersion TagInstanceProfile TagOpenIDConnectProvider TagPolicy TagRole TagUser
UntagInstanceProfile UntagOpenIDConnectProvider UntagPolicy UntagRole UntagUser UpdateAccessKey
UpdateAccountPasswordPolicy UpdateAssumeRolePolicy UpdateGroup UpdateLoginProfile
UpdateOpenIDConnectProviderThumbprint UpdateRole UpdateRoleDescription UpdateSAMLProvider UpdateSSHPublicKey
UpdateSigningCertificate UpdateUser UploadSSHPublicKey UploadServerCertificate UploadSigningCertificate
"""

#: IAM operations refused, by reason tag.
_IAM_REFUSED = {
    "boundary": "PutUserPermissionsBoundary DeleteUserPermissionsBoundary",
    "organizations": "DisableOrganizationsRootCredentialsManagement DisableOrganizationsRootSessions "
                     "EnableOrganizationsRootCredentialsManagement EnableOrganizationsRootSessions "
                     "GenerateOrganizationsAccessReport GetOrganizationsAccessReport ListOrganizationsFeatures",
    "delegation": "AcceptDelegationRequest AssociateDelegationRequest CreateDelegationRequest GetDelegationRequest "
                  "ListDelegationRequests RejectDelegationRequest SendDelegationToken UpdateDelegationRequest",
    "sessions": "AcquireRole GetRoleTemplateVersion DisableOutboundWebIdentityFederation "
                "EnableOutboundWebIdentityFederation GetOutboundWebIdentityFederationInfo",
    "emulator": "AddClientIDToOpenIDConnectProvider ChangePassword CreateServiceSpecificCredential "
                "DeleteServiceSpecificCredential GenerateServiceLastAccessedDetails GetAccountProperties "
                "GetContextKeysForCustomPolicy GetContextKeysForPrincipalPolicy GetHumanReadableSummary GetMFADevice "
                "GetServiceLastAccessedDetails GetServiceLastAccessedDetailsWithEntities ListInstanceProfileTags "
                "ListMFADeviceTags ListPoliciesGrantingServiceAccess ListSAMLProviderTags ListServerCertificateTags "
                "ListServiceSpecificCredentials PutAccountProperties RemoveClientIDFromOpenIDConnectProvider "
                "ResetServiceSpecificCredential ResyncMFADevice SetSecurityTokenServicePreferences "
                "SimulateCustomPolicy SimulatePrincipalPolicy TagMFADevice TagSAMLProvider TagServerCertificate "
                "UntagMFADevice UntagSAMLProvider UntagServerCertificate UpdateOpenIDConnectProvider "
                "UpdateServerCertificate UpdateServiceSpecificCredential",
}


@dataclass(frozen=True)
class Operation:
    """What the lab does with one operation of one service."""

    service: str
    name: str
    kind: str
    note: str | None = None  # the reason, for a refused operation

    @property
    def modelled(self) -> bool:
        return self.kind != "refused"

    @property
    def action(self) -> str:
        """The IAM action AWS authorizes it as (DynamoDB Streams actions are ``dynamodb:``)."""
        prefix = "dynamodb" if self.service == "dynamodbstreams" else self.service
        return f"{prefix}:{self.name}"


def _load() -> dict[tuple[str, str], Operation]:
    table: dict[tuple[str, str], Operation] = {}

    def add(service: str, name: str, kind: str, tag: str | None = None) -> None:
        if (service, name) in table:
            raise AssertionError(f"{service}:{name} is classified twice")
        if kind == "refused" and tag not in REASONS:
            raise AssertionError(f"{service}:{name}: unknown reason {tag!r}")
        table[(service, name)] = Operation(service, name, kind, REASONS[tag] if tag else None)

    for line in _TABLE.splitlines():
        if line.strip() and not line.startswith("#"):
            add(*line.split())
    for name in _IAM_MODELLED.split():
        add("iam", name, "iam")
    for tag, names in _IAM_REFUSED.items():
        for name in names.split():
            add("iam", name, "refused", tag)
    return table


OPERATIONS: dict[tuple[str, str], Operation] = _load()
#: The services whose every operation is classified above.
SERVICES = frozenset(service for service, _ in OPERATIONS)


def classify(service: str, operation: str) -> Operation | None:
    """The lab's classification of ``service:operation`` (exact, case-sensitive names, as AWS matches
    operation names), or None for an operation the service does not have."""
    return OPERATIONS.get((service, operation))


def of_kind(service: str, kind: str) -> frozenset[str]:
    """The operations of ``service`` of one kind."""
    return frozenset(op.name for (svc, _), op in OPERATIONS.items() if svc == service and op.kind == kind)
