"""The URL rules of an edms app share their builders across apps (edms.web.url_rules) and build exactly the
URLs werkzeug's own rules build: for every rule of the app, with and without query arguments."""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import AnyConverter, BaseConverter, IntegerConverter, Map, Rule

from edms.app import _register_blueprints
from edms.web.bounds import IdConverter
from edms.web.url_rules import SharedBuilderRule

VALUES = {"int": 12345, "unicode": "oos_notification", "path": "a/b c.txt",  # by converter
          "uuid": "3f1c6d4e-9a8b-4c2d-8e7f-112233445566"}


def _app(rule_class: type[Rule]) -> Flask:
    app = type("App", (Flask,), {"url_rule_class": rule_class})("edms-test")
    app.url_map.converters["int"] = IdConverter
    _register_blueprints(app)
    return app


def _value(converter: BaseConverter) -> object:
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return VALUES["int" if isinstance(converter, IntegerConverter) else type(converter).__name__[:-9].lower()]


def _arguments(rule: Rule) -> dict[str, object]:
    return {name: _value(converter) for name, converter in rule._converters.items()}


def test_every_url_of_the_app_is_the_one_werkzeugs_own_rules_build():
    shared, plain = _app(SharedBuilderRule), _app(Rule)
    built = 0
    for ours, theirs in zip(shared.url_map.iter_rules(), plain.url_map.iter_rules(), strict=True):
        assert (ours.rule, ours.endpoint) == (theirs.rule, theirs.endpoint)
        arguments = _arguments(ours)
        for extra in ({}, {"page": "2", "q": "ロット L2026/0412 & más"}):
            assert ours.build({**arguments, **extra}) == theirs.build({**arguments, **extra}), ours.rule
            built += 1
    assert built > 200


def test_a_second_app_reuses_the_first_apps_builders_and_a_rule_with_defaults_keeps_its_own():
    first, second = _app(SharedBuilderRule), _app(SharedBuilderRule)
    for one, other in zip(first.url_map.iter_rules(), second.url_map.iter_rules(), strict=True):
        assert one._build.__func__ is other._build.__func__
        assert one._build_unknown.__func__ is other._build_unknown.__func__
    with_defaults = [SharedBuilderRule("/cases/", defaults={"page": 1}, endpoint="a"),
                     SharedBuilderRule("/cases/", defaults={"page": 2}, endpoint="b")]
    urls = Map(with_defaults).bind("edms.example")
    assert urls.build("a") == "/cases/" and urls.build("b") == "/cases/"
    assert with_defaults[0]._build.__func__ is not with_defaults[1]._build.__func__
