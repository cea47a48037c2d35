"""The pure decision core of the signals service: from a company's source events to its signals.

No I/O here: the caller gathers the company's history (`SourceEvent`s made by the `from_*` adapters) and the
cross-company facts (`Context`), then

    findings = evaluate(history, context, as_of, rules)      # what should be open
    changes = diff(open_now, findings, suppressed)            # raised / updated / resolved
    level, company_score = risk_level(findings), score(findings, rules)

The thresholds come from `load_rules()` (shipped `defaults.yaml` with the user's overrides).
"""

from __future__ import annotations

from .catalogue import CATALOGUE, DEFAULT_SEVERITY, Rule, SignalSpec
from .config import (
    RulesConfig,
    RulesConfigError,
    default_rules,
    defaults_text,
    load_rules,
    rules_from_mapping,
)
from .context import EMPTY_CONTEXT, Context, ParentState, PriorFailure, WalletGap
from .directors import Director, DirectorChange, director_changes, registered_directors
from .evaluate import Rated, diff, evaluate, risk_level, score
from .events import (
    Payload,
    SourceEvent,
    SourceName,
    from_bureau,
    from_contact,
    from_observation,
    from_order,
    from_payload,
    from_publication,
    from_register,
    register_event_id,
)
from .findings import CATEGORIES, Change, ChangeKind, Finding, OpenSignal, category_of
from .history import History
from .persons import display_name, person_key, same_person

__all__ = [
    "CATALOGUE",
    "CATEGORIES",
    "DEFAULT_SEVERITY",
    "EMPTY_CONTEXT",
    "Change",
    "ChangeKind",
    "Context",
    "Director",
    "DirectorChange",
    "Finding",
    "History",
    "OpenSignal",
    "ParentState",
    "Payload",
    "PriorFailure",
    "Rated",
    "Rule",
    "RulesConfig",
    "RulesConfigError",
    "SignalSpec",
    "SourceEvent",
    "SourceName",
    "WalletGap",
    "category_of",
    "default_rules",
    "defaults_text",
    "diff",
    "director_changes",
    "display_name",
    "evaluate",
    "from_bureau",
    "from_contact",
    "from_observation",
    "from_order",
    "from_payload",
    "from_publication",
    "from_register",
    "load_rules",
    "person_key",
    "register_event_id",
    "registered_directors",
    "risk_level",
    "rules_from_mapping",
    "same_person",
    "score",
]
