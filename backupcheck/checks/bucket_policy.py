"""Which principals a bucket policy lets undo a backup set's lock: a small IAM evaluator.

Only what ``s3.bucket_policy`` needs, and careful about it. For each dangerous action
(:data:`DANGEROUS_ACTIONS`) it finds the ``Allow`` statements that grant it on some part of the
set (the bucket ARN for bucket actions, ``arn:aws:s3:::BUCKET/PREFIX…`` for object actions),
then removes what an unconditional ``Deny`` over the *whole* set takes away again. It errs on
the side of finding a grant: an ``Allow`` counts when its resource pattern may touch one object
of the set, a ``Deny`` cancels only when it surely covers all of them and has no
``Condition``; a ``Condition`` on an ``Allow`` keeps the grant (marked conditional), since
what a condition evaluates to is not known here.

Why hand-written: the IAM libraries on PyPI either lint policies (parliament), expand action
wildcards from a bundled action list (policyuniverse, py-iam-expand; policyuniverse's last
release is from 2023) or evaluate identity policies (cloudsplaining); none answers "who may
do X on this prefix of this bucket" for a resource policy with NotPrincipal, NotResource and
Deny. The dangerous actions here are a fixed list, so no action database is needed.

Glossary:
  grant      a principal allowed a dangerous action on (part of) the set;
  scope      what the principal is to the MSP: anyone, another account, an account that
             cannot be told (a service, a canonical user, a deleted principal's id, or any
             named principal when the own account is unknown), or the same account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: action -> what it acts on; together they are everything that can undo an Object Lock
DANGEROUS_ACTIONS: Mapping[str, Literal["object", "bucket"]] = {
    "s3:DeleteObjectVersion": "object",
    "s3:BypassGovernanceRetention": "object",
    "s3:PutObjectRetention": "object",
    "s3:PutObjectLegalHold": "object",
    "s3:PutBucketObjectLockConfiguration": "bucket",
    "s3:PutLifecycleConfiguration": "bucket",
    "s3:PutBucketPolicy": "bucket",
    "s3:DeleteBucketPolicy": "bucket",
    "s3:PutBucketVersioning": "bucket",
}

Scope = Literal["anyone", "other account", "unknown account", "same account"]
ANYONE = "*"
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")
_PARTITION = re.compile(r"^arn:aws[\w-]*:s3:::")


class PolicyUnreadable(ValueError):
    """The document is not a policy this evaluator can read (so nothing can be concluded)."""


@dataclass(frozen=True)
class Grant:
    #: the statement's Sid, or ``#N`` (1-based position) when it has none
    statement: str
    #: the principal as written (``*`` for anyone, also for an Allow with NotPrincipal)
    principal: str
    scope: Scope
    actions: tuple[str, ...]
    conditional: bool


@dataclass(frozen=True)
class PolicyVerdict:
    grants: list[Grant] = field(default_factory=list)
    #: grants a Deny took back, as one line each (evidence that Deny statements were read)
    cancelled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Statement:
    label: str
    allow: bool
    principals: tuple[str, ...] | None  # None: NotPrincipal
    not_principals: tuple[str, ...]
    actions: tuple[str, ...]
    negated_actions: bool
    resources: tuple[str, ...]
    negated_resources: bool
    conditional: bool


def _strings(value: Any, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PolicyUnreadable(f"{what} must be a string or a list of strings")
    return tuple(items)


def _principals(value: Any) -> tuple[str, ...]:
    """``*`` or ``{"AWS": ..., "Service": ..., ...}`` → ``*`` / ``TYPE:value`` strings."""
    if value == ANYONE:
        return (ANYONE,)
    if not isinstance(value, dict) or not value:
        raise PolicyUnreadable("Principal must be \"*\" or an object like {\"AWS\": ...}")
    found: list[str] = []
    for kind, names in value.items():
        for name in _strings(names, f"Principal.{kind}"):
            found.append(ANYONE if kind == "AWS" and name == ANYONE else f"{kind}:{name}")
    return tuple(found)


def _parse(statement: Any, position: int) -> _Statement:
    if not isinstance(statement, dict):
        raise PolicyUnreadable(f"statement {position} is not an object")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyUnreadable(f"statement {position}: Effect must be Allow or Deny")
    label = str(statement.get("Sid") or f"#{position}")
    if ("Principal" in statement) == ("NotPrincipal" in statement):
        raise PolicyUnreadable(f"statement {label}: needs exactly one of Principal, "
                               "NotPrincipal")
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyUnreadable(f"statement {label}: needs exactly one of Action, NotAction")
    if ("Resource" in statement) == ("NotResource" in statement):
        raise PolicyUnreadable(f"statement {label}: needs exactly one of Resource, "
                               "NotResource")
    negated_actions = "NotAction" in statement
    negated_resources = "NotResource" in statement
    return _Statement(
        label=label, allow=effect == "Allow",
        principals=(_principals(statement["Principal"]) if "Principal" in statement
                    else None),
        not_principals=(_principals(statement["NotPrincipal"]) if "NotPrincipal" in statement
                        else ()),
        actions=_strings(statement["NotAction" if negated_actions else "Action"], "Action"),
        negated_actions=negated_actions,
        resources=tuple(_PARTITION.sub("arn:aws:s3:::", r) for r in _strings(
            statement["NotResource" if negated_resources else "Resource"], "Resource")),
        negated_resources=negated_resources,
        conditional=bool(statement.get("Condition")))


# ---------------------------------------------------------------- wildcard matching


def _glob(pattern: str, text: str, *, fold_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character, nothing else."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if fold_case else 0) is not None


def _states_after(pattern: str, text: str) -> set[int]:
    """Positions in ``pattern`` a match can be at once ``text`` is consumed (an NFA run)."""
    def closure(states: Iterable[int]) -> set[int]:
        out: set[int] = set()
        for state in states:
            while state not in out:
                out.add(state)
                if state < len(pattern) and pattern[state] == "*":
                    state += 1
                else:
                    break
        return out

    states = closure({0})
    for char in text:
        step: set[int] = set()
        for state in states:
            if state < len(pattern):
                if pattern[state] == "*":
                    step.add(state)
                elif pattern[state] == "?" or pattern[state] == char:
                    step.add(state + 1)
        states = closure(step)
        if not states:
            break
    return states


def _touches(pattern: str, prefix: str) -> bool:
    """Whether ``pattern`` matches at least one string that starts with ``prefix``."""
    return bool(_states_after(pattern, prefix))


def _covers(pattern: str, prefix: str) -> bool:
    """Whether ``pattern`` surely matches every string that starts with ``prefix``."""
    return any(pattern[state:] and set(pattern[state:]) == {"*"}
               for state in _states_after(pattern, prefix))


# ---------------------------------------------------------------- evaluation


def _acts_on(statement: _Statement, action: str) -> bool:
    named = any(_glob(p, action, fold_case=True) for p in statement.actions)
    return named != statement.negated_actions


def _resource(bucket: str, prefix: str, action: str) -> tuple[str, bool]:
    """The set's resource for ``action``: (ARN or ARN prefix, whether it is a prefix)."""
    if DANGEROUS_ACTIONS[action] == "bucket":
        return f"arn:aws:s3:::{bucket}", False
    return f"arn:aws:s3:::{bucket}/{prefix}", True


def _reaches(statement: _Statement, resource: str, is_prefix: bool) -> bool:
    """An Allow applies when it may touch one object of the set."""
    if is_prefix:
        named = any(_touches(p, resource) for p in statement.resources)
        if statement.negated_resources:
            return not any(_covers(p, resource) for p in statement.resources)
        return named
    matched = any(_glob(p, resource) for p in statement.resources)
    return matched != statement.negated_resources


def _spans(statement: _Statement, resource: str, is_prefix: bool) -> bool:
    """A Deny takes a grant back only when it surely covers every object of the set."""
    if is_prefix:
        if statement.negated_resources:
            return not any(_touches(p, resource) for p in statement.resources)
        return any(_covers(p, resource) for p in statement.resources)
    matched = any(_glob(p, resource) for p in statement.resources)
    return matched != statement.negated_resources


def account_of(principal: str) -> str:
    """The 12-digit account of an ``AWS:`` principal (id, root, user, role, session), or ""."""
    if not principal.startswith("AWS:"):
        return ""
    name = principal[4:]
    if _ACCOUNT_ID.match(name):
        return name
    match = _ARN_ACCOUNT.match(name)
    return match.group(1) if match else ""


def _scope(principal: str, own_account: str) -> Scope:
    if principal == ANYONE:
        return "anyone"
    account = account_of(principal)
    if not account or not own_account:
        return "unknown account"
    return "same account" if account == own_account else "other account"


def _is_root(principal: str) -> bool:
    name = principal[4:] if principal.startswith("AWS:") else ""
    return bool(_ACCOUNT_ID.match(name)) or name.endswith(":root")


def _names(denied: str, principal: str) -> bool:
    """Whether a Deny naming ``denied`` applies to ``principal`` (an account covers its own)."""
    if denied == ANYONE or denied == principal:
        return True
    return (principal != ANYONE and _is_root(denied)
            and account_of(denied) == account_of(principal) != "")


def _within(inner: str, outer: str) -> bool:
    """Whether principal ``inner`` is part of ``outer`` (anyone holds all, an account its own)."""
    if inner == ANYONE:
        return outer == ANYONE
    return outer == ANYONE or inner == outer or (
        _is_root(outer) and account_of(inner) == account_of(outer) != "")


def _after_denies(principal: str, denies: Sequence[_Statement]) -> list[str]:
    """What is left of a grant to ``principal`` once every applicable Deny took its part."""
    left = [principal]
    for deny in denies:
        kept: list[str] = []
        for who in left:
            if ANYONE in deny.not_principals:
                kept.append(who)  # "everyone but anyone": denies nobody
            elif deny.principals is not None:
                if not any(_names(d, who) for d in deny.principals):
                    kept.append(who)
            elif any(_names(n, who) for n in deny.not_principals):
                kept.append(who)  # an exempted principal holds all of ``who``
            else:
                # everyone but the listed is denied: the grant narrows to the listed
                # principals inside ``who`` (all of them for anyone, its own for an account)
                kept += [n for n in deny.not_principals if _within(n, who)]
        left = kept
    return left


def dangerous_grants(document: Any, bucket: str, prefix: str, own_account: str
                     ) -> PolicyVerdict:
    """Every principal the policy lets perform a dangerous action on the set.

    ``own_account`` is the MSP's own 12-digit account ("" when it could not be determined:
    then every named principal is possibly another account). Raises PolicyUnreadable.
    """
    if not isinstance(document, dict):
        raise PolicyUnreadable("the policy is not a JSON object")
    raw = document.get("Statement")
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list) or not raw:
        raise PolicyUnreadable("the policy has no Statement list")
    statements = [_parse(s, i) for i, s in enumerate(raw, start=1)]
    by_key: dict[tuple[str, str, bool], list[str]] = {}
    cancelled: list[str] = []
    for action in DANGEROUS_ACTIONS:
        resource, is_prefix = _resource(bucket, prefix, action)
        denies = [s for s in statements if not s.allow and not s.conditional
                  and _acts_on(s, action) and _spans(s, resource, is_prefix)]
        for statement in statements:
            if not (statement.allow and _acts_on(statement, action)
                    and _reaches(statement, resource, is_prefix)):
                continue
            principals = statement.principals if statement.principals is not None else (ANYONE,)
            for principal in principals:
                for who in _after_denies(principal, denies):
                    key = (statement.label, who, statement.conditional)
                    by_key.setdefault(key, []).append(action)
                if principal not in _after_denies(principal, denies):
                    cancelled.append(f"{statement.label}: {_shown(principal)} {action} "
                                     "(denied by an unconditional Deny)")
    grants = [Grant(statement=label, principal=_shown(who), scope=_scope(who, own_account),
                    actions=tuple(actions), conditional=conditional)
              for (label, who, conditional), actions in by_key.items()]
    return PolicyVerdict(grants=grants, cancelled=cancelled)


def _shown(principal: str) -> str:
    """A principal as a person reads it: ``*``, the AWS name itself, or ``Service:name``."""
    return principal[4:] if principal.startswith("AWS:") else principal
