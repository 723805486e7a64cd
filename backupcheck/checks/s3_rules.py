"""``s3.lifecycle`` and ``s3.bucket_policy``: what could undo a lock without breaking it.

Pure functions of :class:`S3Facts` (its ``protection``: the lifecycle rules and the bucket
policy as the server returned them). ``checks/s3.py`` binds them to their registry ids.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backupcheck.backends.s3_facts import EXAMPLES, BucketProtection, S3Facts
from backupcheck.checks.bucket_policy import Grant, PolicyUnreadable, dangerous_grants
from backupcheck.checks.registry import finding
from backupcheck.model import Finding, Status


def _protection(check_id: str, facts: S3Facts, setting: str
                ) -> tuple[BucketProtection | None, Finding | None]:
    """The facts, or the ``error`` finding when they were not read or could not be."""
    evidence: dict[str, Any] = {"bucket": facts.settings.bucket, "prefix": facts.prefix}
    if facts.protection is None:
        evidence["error"] = "not read"
        return None, finding(check_id, Status.ERROR, f"the bucket's {setting} was not read",
                             evidence)
    key = "lifecycle" if setting == "lifecycle configuration" else "bucket_policy"
    if key in facts.protection.errors:
        evidence["error"] = facts.protection.errors[key]
        return None, finding(check_id, Status.ERROR, f"cannot read the bucket's {setting}: "
                             f"{facts.protection.errors[key]}", evidence)
    return facts.protection, None


# ---------------------------------------------------------------- lifecycle


def _rule_prefixes(rule: Mapping[str, Any]) -> list[str]:
    """The key prefixes a rule names (the legacy top-level Prefix, Filter.Prefix or
    Filter.And.Prefix); [""] when it names none. Tag and size filters narrow a rule to some
    objects, which may be backups: they still count as applying."""
    if "Prefix" in rule:
        return [str(rule["Prefix"] or "")]
    selector = rule.get("Filter") or {}
    if "Prefix" in selector:
        return [str(selector["Prefix"] or "")]
    if "And" in selector and "Prefix" in (selector["And"] or {}):
        return [str(selector["And"]["Prefix"] or "")]
    return [""]


def _applies(rule: Mapping[str, Any], prefix: str) -> bool:
    """Whether the rule reaches at least one key of the set (the prefixes overlap)."""
    return any(p.startswith(prefix) or prefix.startswith(p) for p in _rule_prefixes(rule))


def _early_expirations(rule: Mapping[str, Any], minimum: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    label = str(rule.get("ID") or "(no ID)")
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration and int(expiration["Days"]) < minimum:
        found.append({"rule": label, "expires": "current versions",
                      "after_days": int(expiration["Days"])})
    if "Date" in expiration:
        # on that date every object the rule reaches expires, whatever its age; every
        # object written after it expires at once
        date = expiration["Date"]
        found.append({"rule": label, "expires": "current versions",
                      "on_date": date.isoformat() if isinstance(date, datetime) else str(date)})
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    if "NoncurrentDays" in noncurrent and int(noncurrent["NoncurrentDays"]) < minimum:
        found.append({"rule": label, "expires": "noncurrent versions",
                      "after_days": int(noncurrent["NoncurrentDays"])})
    return found


def lifecycle(facts: S3Facts) -> Finding:
    check_id = "s3.lifecycle"
    protection, unknown = _protection(check_id, facts, "lifecycle configuration")
    if protection is None:
        assert unknown is not None
        return unknown
    minimum = facts.policy.min_retention_days
    rules = protection.lifecycle_rules or ()
    enabled = [r for r in rules if r.get("Status") == "Enabled"]
    reaching = [r for r in enabled if _applies(r, facts.prefix)]
    offending = [e for r in reaching for e in _early_expirations(r, minimum)]
    evidence: dict[str, Any] = {
        "bucket": facts.settings.bucket, "prefix": facts.prefix,
        "min_retention_days": minimum, "rules": len(rules),
        "rules_applying": [str(r.get("ID") or "(no ID)") for r in reaching],
        "disabled_rules": [str(r.get("ID") or "(no ID)") for r in rules
                           if r.get("Status") != "Enabled"],
        "offending": offending}
    where = f"s3://{facts.settings.bucket}/{facts.prefix}"
    if protection.lifecycle_rules is None:
        return finding(check_id, Status.PASS, f"the bucket has no lifecycle configuration "
                       f"(GetBucketLifecycleConfiguration): nothing expires {where}", evidence)
    if offending:
        parts = [f"rule {o['rule']} expires {o['expires']} "
                 + (f"after {o['after_days']} days" if "after_days" in o
                    else f"on {o['on_date']} whatever their age") for o in offending]
        return finding(check_id, Status.FAIL, f"{'; '.join(parts)} — sooner than the policy's "
                       f"{minimum} days, under {where}", evidence)
    return finding(check_id, Status.PASS, f"{len(rules)} lifecycle rule(s), {len(reaching)} "
                   f"enabled for {where}: none expires versions sooner than {minimum} days",
                   evidence)


# ---------------------------------------------------------------- bucket policy


def _grant_json(grant: Grant) -> dict[str, Any]:
    return {"statement": grant.statement, "principal": grant.principal, "scope": grant.scope,
            "actions": list(grant.actions), "conditional": grant.conditional}


def _said(grants: list[Grant]) -> str:
    shown = [f"{g.principal} ({g.scope}{', with a condition' if g.conditional else ''}): "
             f"{', '.join(g.actions)} [statement {g.statement}]" for g in grants[:EXAMPLES]]
    more = f"; and {len(grants) - EXAMPLES} more" if len(grants) > EXAMPLES else ""
    return "; ".join(shown) + more


def bucket_policy(facts: S3Facts) -> Finding:
    check_id = "s3.bucket_policy"
    protection, unknown = _protection(check_id, facts, "bucket policy")
    if protection is None:
        assert unknown is not None
        return unknown
    where = f"s3://{facts.settings.bucket}/{facts.prefix}"
    evidence: dict[str, Any] = {
        "bucket": facts.settings.bucket, "prefix": facts.prefix,
        "policy": bool(protection.policy), "is_public": protection.policy_public,
        "policy_status_note": protection.policy_status_note,
        "own_account": protection.own_account, "own_account_source": protection.own_account_note}
    if not protection.policy:
        return finding(check_id, Status.PASS, "the bucket has no bucket policy "
                       "(GetBucketPolicy): it grants nobody anything", evidence)
    try:
        verdict = dangerous_grants(json.loads(protection.policy), facts.settings.bucket,
                                   facts.prefix, protection.own_account)
    except (ValueError, PolicyUnreadable) as exc:
        evidence["error"] = str(exc)
        return finding(check_id, Status.ERROR, f"cannot read the bucket policy: {exc}",
                       evidence)
    grants = verdict.grants
    evidence.update(grants=[_grant_json(g) for g in grants],
                    cancelled_by_deny=verdict.cancelled[:EXAMPLES])
    hard = [g for g in grants if not g.conditional and g.scope != "same account"]
    soft = [g for g in grants if g not in hard]
    if hard or protection.policy_public:
        parts = []
        if hard:
            parts.append(f"the bucket policy lets {_said(hard)} on {where}")
        if protection.policy_public:
            parts.append("the server's GetBucketPolicyStatus says the policy is public")
        if any(g.scope == "unknown account" for g in hard) and not protection.own_account:
            parts.append("the own account could not be determined "
                         f"({protection.own_account_note}), so named principals count as "
                         "possibly another account")
        return finding(check_id, Status.FAIL, "; ".join(parts), evidence)
    if soft:
        why = ("named principals of the own account "
               f"{protection.own_account}" if any(not g.conditional for g in soft)
               else "grants under a condition this tool cannot evaluate")
        return finding(check_id, Status.WARN, f"{why} may undo the lock on {where}: "
                       f"{_said(soft)}", evidence)
    return finding(check_id, Status.PASS, "the bucket policy grants nobody a way to delete "
                   "versions, bypass governance retention or change the lock, lifecycle, "
                   f"policy or versioning on {where}", evidence)
