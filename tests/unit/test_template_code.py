"""Compiled templates are kept per process and shared by the apps in it (edms.web.template_code): a second app
renders from the first app's compiled code, and a template whose source changed is compiled afresh."""
from __future__ import annotations

from jinja2 import DictLoader, Environment

from edms.app import EdmsFlask
from edms.web.template_code import TEMPLATE_CODE, TemplateCode


class _Counting(Environment):
    compiled = 0

    def compile(self, *args, **kwargs):
        type(self).compiled += 1
        return super().compile(*args, **kwargs)


def _environment(sources: dict[str, str], cache: TemplateCode) -> _Counting:
    return _Counting(loader=DictLoader(sources), bytecode_cache=cache, autoescape=True)


def test_a_second_environment_renders_from_the_first_ones_compiled_code():
    cache, sources = TemplateCode(), {"lot.html": "<p>{{ lot }} · {{ result }}</p>"}
    _Counting.compiled = 0
    first = _environment(sources, cache).get_template("lot.html").render(lot="L2026-0412", result="72.0 %")
    second = _environment(sources, cache).get_template("lot.html").render(lot="L2026-0412", result="<72 %>")
    assert first == "<p>L2026-0412 · 72.0 %</p>"
    assert second == "<p>L2026-0412 · &lt;72 %&gt;</p>"
    assert _Counting.compiled == 1


def test_a_template_whose_source_changed_is_compiled_afresh():
    cache = TemplateCode()
    _environment({"lot.html": "Lot {{ lot }}"}, cache).get_template("lot.html")
    _Counting.compiled = 0
    changed = _environment({"lot.html": "ロット {{ lot }}"}, cache).get_template("lot.html").render(lot="L2026-0412")
    assert changed == "ロット L2026-0412" and _Counting.compiled == 1


def test_every_edms_app_uses_the_process_wide_cache():
    assert EdmsFlask("edms-a").jinja_env.bytecode_cache is TEMPLATE_CODE
    assert EdmsFlask("edms-b").jinja_env.bytecode_cache is TEMPLATE_CODE
