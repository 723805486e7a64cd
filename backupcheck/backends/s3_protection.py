"""What could undo a bucket's lock, as the server tells it: lifecycle rules and the policy.

Someone with the MSP's keys does not need to break Object Lock: a lifecycle rule that expires
versions the day their lock ends, or a bucket policy that lets anyone bypass governance
retention, does it for them. This module fetches those facts (and the account the tool's own
credentials belong to, so the policy's principals can be told apart); ``checks/s3_rules.py``
judges them. A setting that could not be read is named in ``errors`` and makes only its own
check ``error``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.s3 import describe, error_code, unsupported_reason
from backupcheck.backends.s3_facts import BucketProtection
from backupcheck.errors import BackupcheckError

#: error codes that mean "this bucket simply has none"
_NO_LIFECYCLE = {"NoSuchLifecycleConfiguration"}
_NO_POLICY = {"NoSuchBucketPolicy"}


def _read(call: Callable[..., Any], operation: str, bucket: str, absent: set[str]
          ) -> tuple[dict[str, Any] | None, str]:
    """``(answer, "")``, ``(None, "")`` when the bucket has none, or ``(None, reason)``."""
    try:
        answer: dict[str, Any] = call(Bucket=bucket)
        return answer, ""
    except ClientError as exc:
        if error_code(exc) in absent:
            return None, ""
        return None, unsupported_reason(exc, operation) or describe(exc)
    except BotoCoreError as exc:
        return None, describe(exc)


def read_protection(client: Any, bucket: str,
                    own_account: Callable[[], str] | None = None) -> BucketProtection:
    """Lifecycle rules, the bucket policy and its public status of ``bucket``.

    ``own_account`` returns the credentials' account (or raises); it is asked only when the
    bucket has a policy whose principals need telling apart.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    lifecycle, why = _read(client.get_bucket_lifecycle_configuration,
                           "GetBucketLifecycleConfiguration", bucket, _NO_LIFECYCLE)
    if why:
        errors["lifecycle"] = why
    elif lifecycle is not None:
        values["lifecycle_rules"] = tuple(lifecycle.get("Rules", []))
    policy, why = _read(client.get_bucket_policy, "GetBucketPolicy", bucket, _NO_POLICY)
    if why:
        errors["bucket_policy"] = why
    elif policy is not None:
        values["policy"] = str(policy.get("Policy", ""))
    if values.get("policy"):
        status, why = _read(client.get_bucket_policy_status, "GetBucketPolicyStatus", bucket,
                            _NO_POLICY)
        if status is not None:
            values["policy_public"] = bool(status.get("PolicyStatus", {}).get("IsPublic"))
        else:
            values["policy_status_note"] = why or "GetBucketPolicyStatus found no policy"
        values["own_account"], values["own_account_note"] = _account(own_account)
    else:
        values["own_account_note"] = "not looked up: no bucket policy to judge"
    return BucketProtection(errors=errors, **values)


def _account(lookup: Callable[[], str] | None) -> tuple[str, str]:
    if lookup is None:
        return "", "not looked up"
    try:
        return lookup(), "STS GetCallerIdentity"
    except (ClientError, BotoCoreError, BackupcheckError) as exc:
        return "", f"STS GetCallerIdentity failed: {describe(exc)}"


def caller_account(sts: Any) -> str:
    """The 12-digit account of ``sts``'s credentials. Raises ClientError / BotoCoreError."""
    account = str(sts.get_caller_identity().get("Account", ""))
    if not (len(account) == 12 and account.isdigit()):
        raise BackupcheckError(f"STS answered an account that is not 12 digits: {account!r}")
    return account
