"""dbt's compiled Jinja templates kept between lakeqa's dbt invocations, as Python keeps .pyc files.

dbt renders every node's SQL and every macro it calls through a new Jinja environment's ``from_string``,
which parses the template, generates its Python source and compiles that on every invocation: a daily
`lakeqa run` compiled 549 templates in 1.37 s of the build process's CPU (2026-12-08, 10 M-trade day),
holding the interpreter lock that dbt's other threads and the Python models need, much of it in the
build's first second, when the first nodes compile the materializations. Jinja's own remedy, a bytecode
cache, serves only templates from a loader, which dbt does not use.

Inside ``compiled_templates_kept(folder)`` the environments dbt's Jinja module makes (``MacroFuzzEnvironment``
and its native subclass) look a template's compiled code up by a digest of everything the compilation reads
(the source, the template's name and file name, the environment's class and extensions, Jinja's, dbt's and
Python's versions) before compiling it, and the codes compiled anew are written to ``folder``/CACHE_FILE
when the block ends (atomically; a code unused for KEEP_SAVES saves is dropped). What runs is what Jinja
would have compiled from the same source. A file that cannot be read is ignored and rewritten, and
dbt's MACRO_DEBUGGING (which writes the generated source for debugging) compiles as dbt does. The file
holds Python code, like a .pyc: the target folder must be writable only by whoever runs dbt there.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from lakeqa.atomic import write_bytes

log = logging.getLogger(__name__)

CACHE_FILE = "lakeqa_compiled_templates.marshal"
# a compiled template not used by this many saves in a row is dropped (a changed model's old source)
KEEP_SAVES = 20
# bump when what the file holds changes
FORMAT = 1

_lock = threading.Lock()


@contextmanager
def compiled_templates_kept(folder: Path | str):
    """dbt's invocations inside the block reuse the compiled templates kept in ``folder`` (see the module's
    docstring). run_dbt opens one per invocation; a block opened inside another leaves the keeping to the
    outer one and yields None."""
    try:
        from dbt_common.clients import jinja as dbt_jinja
    except ImportError:
        yield
        return
    environment_class = dbt_jinja.MacroFuzzEnvironment
    if "compile" in environment_class.__dict__:  # another block is open (nested run_dbt): it keeps them
        yield
        return
    store = _Store(Path(folder) / CACHE_FILE, _versions())
    jinja_compile = environment_class.compile

    def compile(environment, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str) or getattr(dbt_jinja, "MACRO_DEBUGGING", False):
            return jinja_compile(environment, source, name, filename, raw, defer_init)
        key = store.key(environment, source, name, filename, defer_init)
        code = store.get(key)
        if code is None:
            code = jinja_compile(environment, source, name, filename, raw, defer_init)
            store.put(key, code)
        return code

    environment_class.compile = compile
    try:
        yield store
    finally:
        del environment_class.compile
        store.save()


def _versions() -> str:
    from importlib import metadata

    return repr((FORMAT, sys.version, metadata.version("jinja2"), metadata.version("dbt-core"),
                 metadata.version("dbt-common")))  # fmt: skip


class _Store:
    """The compiled templates of CACHE_FILE: digest -> (the save that last used it, code)."""

    def __init__(self, path: Path, versions: str):
        self.path = path
        self.versions = versions
        self.loaded = 0  # codes found in the file
        self.reused = 0  # compilations skipped
        self.compiled = 0  # codes compiled anew
        self._codes: dict[str, tuple[int, object]] = {}
        self._used: set[str] = set()
        self._save = 0
        self._read()

    def _read(self) -> None:
        try:
            with open(self.path, "rb") as file:
                versions, save, codes = marshal.load(file)
        except FileNotFoundError:
            return
        except (OSError, EOFError, ValueError, TypeError) as error:
            log.info("compiled templates %s unreadable (%s): compiling again", self.path, error)
            return
        if versions == self.versions and isinstance(codes, dict):
            self._save, self._codes = save, codes
            self.loaded = len(codes)

    def key(self, environment, source: str, name, filename, defer_init) -> str:
        extensions = sorted(f"{type(e).__module__}.{type(e).__qualname__}" for e in environment.extensions.values())
        kind = f"{type(environment).__module__}.{type(environment).__qualname__}"
        digest = hashlib.sha256(repr((kind, extensions, name, filename, bool(defer_init))).encode())
        digest.update(source.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get(self, key: str):
        with _lock:
            entry = self._codes.get(key)
            if entry is None:
                return None
            self._used.add(key)
            self.reused += 1
            return entry[1]

    def put(self, key: str, code) -> None:
        with _lock:
            self._codes[key] = (self._save, code)
            self._used.add(key)
            self.compiled += 1

    def save(self) -> None:
        """Write the file if anything was compiled anew: every code used now, and the others used within
        the last KEEP_SAVES saves."""
        if not self.compiled:
            return
        save = self._save + 1
        with _lock:
            codes = {key: (save if key in self._used else used, code) for key, (used, code) in self._codes.items()
                     if key in self._used or used > save - KEEP_SAVES}  # fmt: skip
        try:
            write_bytes(self.path, marshal.dumps((self.versions, save, codes)))
        except OSError as error:  # a read-only target costs the next invocation its compilations, nothing more
            log.info("compiled templates %s not written (%s)", self.path, error)
