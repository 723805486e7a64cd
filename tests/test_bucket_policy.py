"""The bucket-policy evaluator: which principals a policy lets undo a backup set's lock.

Pure functions over hand-written policy documents in every form IAM accepts (a single
statement or a list, strings or lists, ``*`` / ``{"AWS": "*"}`` / account ids / ARNs,
NotPrincipal, NotAction, NotResource, wildcards, Deny statements and Conditions).
"""

from __future__ import annotations

from typing import Any

import pytest

from backupcheck.checks.bucket_policy import (
    DANGEROUS_ACTIONS,
    PolicyUnreadable,
    dangerous_grants,
)

OWN = "111122223333"
OTHER = "444455556666"
BUCKET = "acme-veeam"
OBJECTS = f"arn:aws:s3:::{BUCKET}/*"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
OBJECT_ACTIONS = {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
                  "s3:PutObjectRetention", "s3:PutObjectLegalHold"}
BUCKET_ACTIONS = set(DANGEROUS_ACTIONS) - OBJECT_ACTIONS


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any, resource: Any = OBJECTS, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource,
            **extra}


def deny(principal: Any, action: Any, resource: Any = OBJECTS, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource,
            **extra}


def granted(document: dict[str, Any], prefix: str = "", own: str = OWN) -> dict[str, set[str]]:
    """scope -> actions granted (conditional grants under "conditional <scope>")."""
    found: dict[str, set[str]] = {}
    for grant in dangerous_grants(document, BUCKET, prefix, own).grants:
        scope = f"conditional {grant.scope}" if grant.conditional else grant.scope
        found.setdefault(scope, set()).update(grant.actions)
    return found


def test_the_issue_policy_anyone_may_bypass_governance_and_delete_versions() -> None:
    document = policy(allow("*", ["s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"]))
    assert granted(document) == {
        "anyone": {"s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"}}


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]},
                                       {"AWS": ["arn:aws:iam::111122223333:root", "*"]}])
def test_every_form_of_anyone(principal: Any) -> None:
    assert "anyone" in granted(policy(allow(principal, "s3:DeleteObjectVersion")))


@pytest.mark.parametrize(("principal", "scope"), [
    ({"AWS": f"arn:aws:iam::{OTHER}:root"}, "other account"),
    ({"AWS": OTHER}, "other account"),
    ({"AWS": f"arn:aws:iam::{OTHER}:role/backup"}, "other account"),
    ({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/backup/session"}, "other account"),
    ({"AWS": f"arn:aws:iam::{OWN}:root"}, "same account"),
    ({"AWS": OWN}, "same account"),
    ({"AWS": f"arn:aws:iam::{OWN}:user/veeam"}, "same account"),
    ({"AWS": "AIDAJQABLZS4A3QDU576Q"}, "unknown account"),  # a deleted principal's unique id
    ({"Service": "logging.s3.amazonaws.com"}, "unknown account"),
    ({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
     "unknown account"),
    ({"Federated": "cognito-identity.amazonaws.com"}, "unknown account"),
])
def test_named_principals_are_classified_by_account(principal: Any, scope: str) -> None:
    assert granted(policy(allow(principal, "s3:DeleteObjectVersion"))) == {
        scope: {"s3:DeleteObjectVersion"}}


def test_a_named_principal_is_possibly_another_account_when_the_own_is_unknown() -> None:
    document = policy(allow({"AWS": f"arn:aws:iam::{OWN}:user/veeam"}, "s3:PutObjectRetention"))
    assert granted(document, own="") == {"unknown account": {"s3:PutObjectRetention"}}


def test_not_principal_allow_grants_everyone_but_the_listed() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OWN}:root"},
                 "Action": "s3:DeleteObjectVersion", "Resource": OBJECTS}
    assert set(granted(policy(statement))) == {"anyone"}


@pytest.mark.parametrize(("action", "expected"), [
    ("s3:*", OBJECT_ACTIONS),
    ("*", OBJECT_ACTIONS),
    ("s3:Delete*", {"s3:DeleteObjectVersion"}),
    ("s3:PutObject*", {"s3:PutObjectRetention", "s3:PutObjectLegalHold"}),
    ("S3:deleteobjectVERSION", {"s3:DeleteObjectVersion"}),
    ("s3:?ypassGovernanceRetention", {"s3:BypassGovernanceRetention"}),
    (["s3:GetObject", "s3:PutObject"], set()),
    ("s3:DeleteObject", set()),  # in a versioned bucket: a delete marker, not a deletion
])
def test_action_wildcards_on_objects(action: Any, expected: set[str]) -> None:
    assert granted(policy(allow("*", action))).get("anyone", set()) == expected


def test_not_action_grants_everything_else() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "NotAction": ["s3:GetObject"],
                 "Resource": [OBJECTS, BUCKET_ARN]}
    assert granted(policy(statement)) == {"anyone": set(DANGEROUS_ACTIONS)}
    spared = dict(statement, NotAction=["s3:Delete*", "s3:Put*"])
    assert granted(policy(spared)) == {"anyone": {"s3:BypassGovernanceRetention"}}


def test_bucket_actions_need_the_bucket_arn() -> None:
    assert granted(policy(allow("*", "s3:*", BUCKET_ARN))) == {"anyone": BUCKET_ACTIONS}
    assert granted(policy(allow("*", "s3:PutLifecycleConfiguration", OBJECTS))) == {}
    assert granted(policy(allow("*", "s3:*", "*"))) == {"anyone": set(DANGEROUS_ACTIONS)}
    # IAM's * spans "/" too: a bucket-name wildcard also reaches every object
    assert granted(policy(allow("*", "s3:*", "arn:aws:s3:::acme-*"))) == {
        "anyone": set(DANGEROUS_ACTIONS)}
    assert granted(policy(allow("*", "s3:*", "arn:aws:s3:::acme-?eeam"))) == {
        "anyone": BUCKET_ACTIONS}


@pytest.mark.parametrize(("resource", "prefix", "applies"), [
    (OBJECTS, "Veeam/", True),
    (f"arn:aws:s3:::{BUCKET}/Veeam/*", "Veeam/", True),
    (f"arn:aws:s3:::{BUCKET}/Veeam/Job1/*", "Veeam/", True),  # part of the set
    (f"arn:aws:s3:::{BUCKET}/other/*", "Veeam/", False),
    (f"arn:aws:s3:::{BUCKET}/other/*", "", True),  # the set is the whole bucket
    (f"arn:aws:s3:::{BUCKET}/*/full.vbk", "Veeam/", True),
    (f"arn:aws:s3:::{BUCKET}/V?eam/*", "Veeam/", True),
    ("arn:aws:s3:::other-bucket/*", "", False),
    ("arn:aws:s3:::acme-*/*", "", True),
    ("arn:aws-cn:s3:::acme-veeam/*", "", True),
    ([f"arn:aws:s3:::{BUCKET}/other/*", f"arn:aws:s3:::{BUCKET}/Veeam/a.vbk"], "Veeam/", True),
])
def test_resource_patterns_that_touch_the_set(resource: Any, prefix: str, applies: bool) -> None:
    found = granted(policy(allow("*", "s3:DeleteObjectVersion", resource)), prefix=prefix)
    assert bool(found) is applies, found


def test_not_resource_allow_applies_unless_it_excludes_the_whole_set() -> None:
    base = {"Effect": "Allow", "Principal": "*", "Action": "s3:DeleteObjectVersion"}
    assert granted(policy(dict(base, NotResource=f"arn:aws:s3:::{BUCKET}/logs/*")))
    assert not granted(policy(dict(base, NotResource=OBJECTS)))
    assert granted(policy(dict(base, NotResource=f"arn:aws:s3:::{BUCKET}/Veeam/*")),
                   prefix="") == {"anyone": {"s3:DeleteObjectVersion"}}
    assert not granted(policy(dict(base, NotResource=f"arn:aws:s3:::{BUCKET}/Veeam/*")),
                       prefix="Veeam/")


def test_an_unconditional_deny_cancels_the_grant() -> None:
    document = policy(allow("*", ["s3:DeleteObjectVersion", "s3:PutObjectLegalHold"]),
                      deny("*", "s3:DeleteObjectVersion"))
    verdict = dangerous_grants(document, BUCKET, "", OWN)
    assert {a for g in verdict.grants for a in g.actions} == {"s3:PutObjectLegalHold"}
    assert verdict.cancelled and "s3:DeleteObjectVersion" in verdict.cancelled[0]


def test_a_deny_with_a_condition_does_not_cancel() -> None:
    condition = {"StringNotEquals": {"aws:PrincipalAccount": OWN}}
    document = policy(allow("*", "s3:DeleteObjectVersion"),
                      deny("*", "s3:DeleteObjectVersion", Condition=condition))
    assert granted(document) == {"anyone": {"s3:DeleteObjectVersion"}}


def test_a_deny_of_part_of_the_set_does_not_cancel() -> None:
    document = policy(allow("*", "s3:DeleteObjectVersion"),
                      deny("*", "s3:*", f"arn:aws:s3:::{BUCKET}/Veeam/*"))
    assert granted(document) == {"anyone": {"s3:DeleteObjectVersion"}}
    assert granted(document, prefix="Veeam/") == {}


def test_deny_wildcards_and_not_action() -> None:
    document = policy(allow("*", "s3:*"), deny("*", "s3:*"))
    assert granted(document) == {}
    spared = {"Effect": "Deny", "Principal": "*", "NotAction": "s3:PutObjectRetention",
              "Resource": "*"}
    assert granted(policy(allow("*", "s3:*"), spared)) == {
        "anyone": {"s3:PutObjectRetention"}}


def test_a_deny_to_one_principal_cancels_only_that_principal() -> None:
    role = f"arn:aws:iam::{OTHER}:role/backup"
    document = policy(allow({"AWS": [role, f"arn:aws:iam::{OWN}:user/ops"]},
                            "s3:DeleteObjectVersion"),
                      deny({"AWS": OTHER}, "s3:DeleteObjectVersion"))
    assert granted(document) == {"same account": {"s3:DeleteObjectVersion"}}
    # a deny to a named principal does not cancel a grant to anyone
    document = policy(allow("*", "s3:DeleteObjectVersion"),
                      deny({"AWS": role}, "s3:DeleteObjectVersion"))
    assert granted(document) == {"anyone": {"s3:DeleteObjectVersion"}}


def test_deny_not_principal_leaves_only_the_listed_principals() -> None:
    role = f"arn:aws:iam::{OWN}:role/veeam"
    document = policy(allow("*", "s3:DeleteObjectVersion"),
                      {"Effect": "Deny", "NotPrincipal": {"AWS": [role]},
                       "Action": "s3:*", "Resource": OBJECTS})
    grants = dangerous_grants(document, BUCKET, "", OWN).grants
    assert [(g.principal, g.scope) for g in grants] == [(role, "same account")]


def test_a_condition_makes_a_grant_conditional_not_harmless() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
    document = policy(allow("*", "s3:DeleteObjectVersion", Condition=condition))
    assert granted(document) == {"conditional anyone": {"s3:DeleteObjectVersion"}}


def test_single_statement_and_string_forms() -> None:
    document = {"Statement": allow({"AWS": OTHER}, "s3:BypassGovernanceRetention", OBJECTS)}
    assert granted(document) == {"other account": {"s3:BypassGovernanceRetention"}}


def test_harmless_policies_grant_nothing() -> None:
    document = policy(allow("*", "s3:GetObject"),
                      allow({"AWS": OTHER}, ["s3:ListBucket", "s3:GetBucketLocation"],
                            BUCKET_ARN),
                      deny("*", "s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert granted(document) == {}


def test_grants_name_their_statement() -> None:
    document = policy(dict(allow("*", "s3:DeleteObjectVersion"), Sid="LetAnyoneDelete"),
                      allow({"AWS": OTHER}, "s3:PutBucketPolicy", BUCKET_ARN))
    grants = dangerous_grants(document, BUCKET, "", OWN).grants
    assert [g.statement for g in grants] == ["LetAnyoneDelete", "#2"]
    assert [g.principal for g in grants] == ["*", OTHER]


@pytest.mark.parametrize("document", [
    [], "not a policy", {"Statement": "x"}, {"Statement": [{"Effect": "Allow"}]},
    {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "*"}]},
    {"Statement": [{"Effect": "Allow", "Principal": 5, "Action": "s3:*", "Resource": "*"}]},
])
def test_malformed_policies_are_unreadable_not_harmless(document: Any) -> None:
    with pytest.raises(PolicyUnreadable):
        dangerous_grants(document, BUCKET, "", OWN)


def test_deny_not_principal_anyone_denies_nobody() -> None:
    document = policy(allow("*", "s3:DeleteObjectVersion"),
                      {"Effect": "Deny", "NotPrincipal": "*", "Action": "s3:*",
                       "Resource": OBJECTS})
    assert granted(document) == {"anyone": {"s3:DeleteObjectVersion"}}


def test_deny_not_principal_keeps_the_exempted_part_of_an_account_grant() -> None:
    """Allow another account, Deny everyone but one role of it: that role keeps the grant."""
    role = f"arn:aws:iam::{OTHER}:role/partner-admin"
    document = policy(allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, "s3:DeleteObjectVersion"),
                      {"Effect": "Deny", "NotPrincipal": {"AWS": role}, "Action": "s3:*",
                       "Resource": OBJECTS})
    grants = dangerous_grants(document, BUCKET, "", OWN).grants
    assert [(g.principal, g.scope) for g in grants] == [(role, "other account")]
    # exempting the whole account keeps a grant to one of its users whole
    document = policy(allow({"AWS": f"arn:aws:iam::{OTHER}:user/x"}, "s3:DeleteObjectVersion"),
                      {"Effect": "Deny", "NotPrincipal": {"AWS": OTHER}, "Action": "s3:*",
                       "Resource": OBJECTS})
    grants = dangerous_grants(document, BUCKET, "", OWN).grants
    assert [g.principal for g in grants] == [f"arn:aws:iam::{OTHER}:user/x"]
