"""werkzeug's URL rule, whose URL builders are made once per process for each shape of URL rather than for each
rule of each app.

werkzeug writes and compiles Python code for every rule it binds (two URL builders a rule, ~0.7 ms), so each
app spends ~0.1 s on its ~150 rules: once for `edms serve`, but once for each of the ~3 000 apps the test suite
builds (about four minutes of CI). A builder's code depends only on the rule's parts (its static text and the
names of its variables), so rules of the same shape share one builder function, which reads each rule's own
converters when it runs. A rule with defaults has them written into its code: it keeps werkzeug's own builder.
tests/unit/test_url_rules.py builds every URL of the app with both and compares them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.routing import Rule

_Builder = Callable[..., tuple[str, str]]
_builders: dict[tuple[bool, tuple[tuple[bool, str], ...]], _Builder] = {}
_lock = threading.Lock()


class SharedBuilderRule(Rule):
    def _compile_builder(self, append_unknown: bool = True) -> _Builder:
        if self.defaults:
            return super()._compile_builder(append_unknown)
        key = (append_unknown, tuple(self._trace))
        with _lock:
            builder = _builders.get(key)
        if builder is None:
            builder = super()._compile_builder(append_unknown)
            with _lock:
                builder = _builders.setdefault(key, builder)
        return builder
