"""Compiled Jinja templates kept per process, shared by every app in it.

Each Flask app has its own Jinja environment, which compiles each template from source the first time the app
renders it (~5-30 ms a template: ~0.1 s for the first pages of an app). `edms serve` builds one app, but the test
suite builds ~3 000. Jinja's bytecode cache keeps the compiled code by template and checks it against the
source's checksum, so a template changed on disk is compiled afresh. Every edms app configures its environment
alike (autoescape, the same gettext and filters), so their compiled code is the same.
"""
from __future__ import annotations

import threading

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class TemplateCode(BytecodeCache):
    """Jinja's bytecode cache in memory: compiled templates by Jinja's key (template name and file)."""

    def __init__(self) -> None:
        self._kept: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            code = self._kept.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # ignored, and compiled afresh, when the source's checksum differs

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._kept[bucket.key] = code


TEMPLATE_CODE = TemplateCode()
