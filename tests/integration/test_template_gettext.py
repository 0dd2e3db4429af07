"""Templates translate through the translations resolved once per render (edms.web.i18n): the same words,
escaping and formatting as flask-babel's own gettext, in English and Japanese."""
import pytest
from flask import render_template_string
from flask_babel import gettext, refresh

TEMPLATE = ('{{ _("Too many attempts") }}|{{ gettext("%(time)s (your time: %(local)s)", time="<b>1</b>", '
            'local="2") }}|{% trans %}Too many attempts{% endtrans %}')


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_template_says_what_flask_babel_says_in_the_page_language(app, language):
    with app.test_request_context("/", headers={"Accept-Language": language}):
        refresh()
        page = render_template_string(TEMPLATE)
        expected_time = gettext("%(time)s (your time: %(local)s)", time="&lt;b&gt;1&lt;/b&gt;", local="2")
        assert page == f"{gettext('Too many attempts')}|{expected_time}|{gettext('Too many attempts')}"
    if language == "ja":
        assert page.startswith("試行回数の超過|&lt;b&gt;1&lt;/b&gt;（閲覧者の時刻: 2）")
