"""The rules as Great Expectations suites, generated from the rule attachments the dbt build wrote; a
checkpoint per suite and day; Data Docs.

One module per job:

* ``attachments``: the ``rule_catalog`` and ``rule_attachments`` tables (what each rule is, where the yml
  attaches it, with which arguments and threshold) read from DuckDB into dataclasses;
* ``builders``: one builder per rule test turning an attachment into GE expectations, the GE equivalent of
  the rule's SQL macro (the mapping of every rule, and how R5 gaps are checked, is told there);
* ``suites``: ``SuitePlan`` and ``build_suites``, one suite per table (plus ``<table>__r5_gaps``);
* ``batches``: the SELECT of each suite's batch (the day's rows, or R5 intervals), run by GE on DuckDB;
* ``sql``: GE's SQL engine on the DuckDB file, and the one GE attribute patched for it (why: there);
* ``context``: GE's file context, the Data Docs site, the shared compiled page templates (where files go);
* ``summary``: results as data; ``checkpoint``: ``run_ge_checkpoint`` (why one checkpoint per suite);
* ``command``: the ``lakeqa ge`` command.

great_expectations is imported only when a suite is built or run: it takes seconds to import.
"""

import os

# Before great_expectations is imported, by any module of this package.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from lakeqa.ge.attachments import Attachment, Rule, RuleSet, read_rule_set, rule_set_from_rows  # noqa: E402
from lakeqa.ge.builders import BUILDERS  # noqa: E402
from lakeqa.ge.checkpoint import run_ge_checkpoint  # noqa: E402
from lakeqa.ge.errors import GeSuiteError  # noqa: E402
from lakeqa.ge.suites import GAPS_SUFFIX, SuitePlan, build_suites  # noqa: E402

__all__ = [
    "BUILDERS",
    "GAPS_SUFFIX",
    "Attachment",
    "GeSuiteError",
    "Rule",
    "RuleSet",
    "SuitePlan",
    "build_suites",
    "read_rule_set",
    "rule_set_from_rows",
    "run_ge_checkpoint",
]
