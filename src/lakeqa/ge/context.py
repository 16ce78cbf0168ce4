"""GE's file context and its Data Docs site, and the sharing of GE's compiled page templates.

Where things go: a GE file context under ``<output_root>/ge/gx/`` (``great_expectations.yml``, the suites
as JSON under ``expectations/``, ``checkpoints/``, ``validation_definitions/``, results under
``uncommitted/validations/``, all written by GE) and the Data Docs site under ``<output_root>/ge/data_docs/``
(``index.html``); the site's path is stored relative to the context, so no absolute path is written. GE's
own stores are GE's business: lakeqa writes no file of them itself. GE's usage statistics are off
(``GX_ANALYTICS_ENABLED=false``, set by ``lakeqa.ge`` before GE is imported, and ``analytics_enabled:
false``), its progress bars are off, its logging is quiet; nothing is fetched from the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["DATASOURCE_NAME", "DOCS_INDEX_LIMIT", "SITE_NAME", "URL_VARIABLE", "open_context", "quiet_gx"]

SITE_NAME = "lakeqa"
DATASOURCE_NAME = "lakeqa"
# the SQL data source's connection string, given at run time: the stored config says ${lakeqa_duckdb_url}
URL_VARIABLE = "lakeqa_duckdb_url"
DOCS_INDEX_LIMIT = 1000  # validation results on the Data Docs index: about 140 days of 7 suites


def quiet_gx() -> None:
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def open_context(ge_root: Path, runtime_environment: dict[str, str] | None = None):
    """GE's file context under ``ge_root/gx``, with the Data Docs site at ``ge_root/data_docs``;
    ``runtime_environment``: config variables given at run time (not stored)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ge_root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(
        mode="file", project_root_dir=str(ge_root), runtime_environment=runtime_environment
    )
    if context.variables.config_variables_file_path:
        # GE re-reads and YAML-parses uncommitted/config_variables.yml on every lookup of a context
        # variable, about 350 times a checkpoint run (~1 s); lakeqa substitutes no config variables, so the
        # context goes without the file. The provider is chosen when the context opens: open it again.
        context.variables.config_variables_file_path = None
        context.variables.save()
        context = gx.get_context(
            mode="file", project_root_dir=str(ge_root), runtime_environment=runtime_environment
        )
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.config.analytics_enabled = False
    sites = dict(context.config.data_docs_sites or {})
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        # relative to the context root (ge_root/gx), so no absolute path is stored
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": "../data_docs/"},
        # the index lists (and GE loads, on every build) at most this many validation results, newest first
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": DOCS_INDEX_LIMIT,
        },
    }
    if sites.get(SITE_NAME) != site or "local_site" in sites:
        sites.pop("local_site", None)  # GE's default site: lakeqa's is the only one
        sites[SITE_NAME] = site
        context.variables.data_docs_sites = sites
    context.variables.save()
    return context


class _ConfigurationsOnce:
    """Each expectation's configuration built once while a checkpoint validates.

    GE 1.24's ``Expectation.configuration`` is a property that builds a new ExpectationConfiguration from the
    expectation's pydantic fields (``.dict()``) on every read, and validating reads it once per domain,
    success and runtime key of every expectation (``_get_domain_kwargs``, ``_get_success_kwargs`` and
    ``_get_runtime_kwargs`` in great_expectations/expectations/expectation.py): a generated day's 63
    expectations are built 10 402 times, 939 with this (GE makes new expectation objects from the suite's
    as it validates, each built once); on the 10 M-trade day the checkpoint alone 3.7-4.3 s -> 3.1-3.6 s
    (two alternating pairs of three runs).
    Nothing changes an expectation object while it is validated, so this keeps its first build for the
    length of the context (``checkpoint.run``, not the suites' saving, which gives them their ids) and puts
    GE's property back afterwards. tests/python/test_ge.py checks that the results are the same with and
    without it, and that GE's property still builds anew on each read (this goes when GE stops doing so).
    """

    builds = 0  # configurations built while open, for the tests

    def __enter__(self):
        from great_expectations.expectations.expectation import Expectation

        self._class = Expectation
        self._property = build = Expectation.__dict__["configuration"]
        # id(expectation) -> (expectation, its configuration): the expectation is held, so its id stays
        # its own
        kept: dict[int, tuple] = {}

        def configuration(expectation):
            entry = kept.get(id(expectation))
            if entry is None:
                _ConfigurationsOnce.builds += 1
                entry = kept[id(expectation)] = (expectation, build.fget(expectation))
            return entry[1]

        self._kept = kept
        Expectation.configuration = property(configuration, doc=build.__doc__)
        return self

    def __exit__(self, *exc):
        self._class.configuration = self._property
        self._kept.clear()
        return False


class _CompiledTemplates:
    """Reuse of GE's compiled Data Docs templates for the length of a checkpoint run.

    GE renders every Data Docs page through a new ``DefaultJinjaView``, and each makes its own jinja
    Environment, so every page compiles its ~18 templates from source again: about 3 s of a 15 s GE step
    here (7 suites; measured by running the step with and without this). jinja's documented remedy is a
    bytecode cache on the Environment, keyed by template name and source checksum, so the pages come out
    the same. This sets one in-memory cache on each view GE makes while the context is open and puts GE's
    constructor back afterwards; tests/python/test_ge.py checks both.
    """

    store: dict[str, bytes] = {}
    compilations = 0  # templates compiled from source (not found in the store), for the tests

    def __enter__(self):
        from jinja2 import BytecodeCache
        from great_expectations.render.view import view

        store = self.store

        class InMemory(BytecodeCache):
            def load_bytecode(self, bucket):
                code = store.get(bucket.key)
                if code is not None:
                    bucket.bytecode_from_string(code)

            def dump_bytecode(self, bucket):
                _CompiledTemplates.compilations += 1
                store[bucket.key] = bucket.bytecode_to_string()

        self._view = view.DefaultJinjaView
        self._original_init = original = self._view.__init__
        cache = InMemory()

        def init_with_cache(instance, *args, **kwargs):
            original(instance, *args, **kwargs)
            instance.env.bytecode_cache = cache

        self._view.__init__ = init_with_cache
        return self

    def __exit__(self, *exc):
        self._view.__init__ = self._original_init
        return False
