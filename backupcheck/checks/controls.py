"""The compliance controls a check can evidence: each control's id, its own words (kept
short) and the document they come from. The registry (``checks/registry.py``) names per check
which of these it evidences; the audit pack shows per control which checks did, and how.

Where the mapping comes from: backupcheck's own reading of each control's text against what
the check proves — not an official crosswalk of any of these bodies. Backups that exist, are
fresh and cannot be changed evidence the backup controls; restores proven byte for byte and
within the RTO evidence the recovery and testing controls.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Control:
    id: str
    framework: str
    words: str  # the control's own words, shortened
    source: str


ISO = "ISO/IEC 27001:2022 Annex A"
NIS2 = "Directive (EU) 2022/2555 (NIS2), Article 21(2)(c)"
SOC2 = "AICPA Trust Services Criteria (2017, revised points of focus 2022), Availability"
HIPAA = "45 CFR 164.308(a)(7) HIPAA Security Rule, contingency plan"
CIS = "CIS Critical Security Controls v8, Control 11 (Data Recovery)"

CONTROLS: tuple[Control, ...] = (
    Control("ISO27001:A.8.13", "ISO 27001", "Information backup: backup copies of information, "
            "software and systems shall be maintained and regularly tested", ISO),
    Control("ISO27001:A.5.30", "ISO 27001", "ICT readiness for business continuity: planned, "
            "implemented, maintained and tested against continuity objectives", ISO),
    Control("NIS2:Art.21(2)(c)", "NIS2", "business continuity, such as backup management and "
            "disaster recovery, and crisis management", NIS2),
    Control("SOC2:A1.2", "SOC 2", "implements, operates, maintains and monitors data back-up "
            "processes and recovery infrastructure to meet its objectives", SOC2),
    Control("SOC2:A1.3", "SOC 2", "tests recovery plan procedures supporting system recovery "
            "to meet its objectives", SOC2),
    Control("HIPAA:164.308(a)(7)(ii)(A)", "HIPAA", "Data backup plan: create and maintain "
            "retrievable exact copies of electronic protected health information", HIPAA),
    Control("HIPAA:164.308(a)(7)(ii)(B)", "HIPAA", "Disaster recovery plan: procedures to "
            "restore any loss of data", HIPAA),
    Control("HIPAA:164.308(a)(7)(ii)(D)", "HIPAA", "Testing and revision procedures: periodic "
            "testing and revision of contingency plans", HIPAA),
    Control("CIS:11.1", "CIS v8", "Establish and maintain a data recovery process", CIS),
    Control("CIS:11.2", "CIS v8", "Perform automated backups", CIS),
    Control("CIS:11.3", "CIS v8", "Protect recovery data (encryption, separation)", CIS),
    Control("CIS:11.4", "CIS v8", "Establish and maintain an isolated instance of recovery "
            "data", CIS),
    Control("CIS:11.5", "CIS v8", "Test data recovery", CIS),
)
BY_ID = {c.id: c for c in CONTROLS}

#: what each kind of proof evidences (the registry gives each check one of these)
FRESH = ("ISO27001:A.8.13", "NIS2:Art.21(2)(c)", "SOC2:A1.2", "HIPAA:164.308(a)(7)(ii)(A)",
         "CIS:11.2")
IMMUTABLE = ("ISO27001:A.8.13", "NIS2:Art.21(2)(c)", "SOC2:A1.2",
             "HIPAA:164.308(a)(7)(ii)(A)", "CIS:11.3", "CIS:11.4")
PROTECTED = ("ISO27001:A.8.13", "SOC2:A1.2", "CIS:11.3")
RESTORABLE = ("ISO27001:A.8.13", "ISO27001:A.5.30", "NIS2:Art.21(2)(c)", "SOC2:A1.3",
              "HIPAA:164.308(a)(7)(ii)(A)", "HIPAA:164.308(a)(7)(ii)(B)",
              "HIPAA:164.308(a)(7)(ii)(D)", "CIS:11.1", "CIS:11.5")
RECOVERY_TIME = ("ISO27001:A.5.30", "NIS2:Art.21(2)(c)", "SOC2:A1.3",
                 "HIPAA:164.308(a)(7)(ii)(B)", "HIPAA:164.308(a)(7)(ii)(D)", "CIS:11.1",
                 "CIS:11.5")
