"""The one error of the GE step, a LakeError so that `lakeqa ge` prints it and exits 1."""

from __future__ import annotations

from lakeqa.lake import LakeError


class GeSuiteError(LakeError):
    """The build's rule attachments cannot be turned into suites, or the DuckDB file cannot give the
    batches they need. The message names the rule, the table and what to do."""
