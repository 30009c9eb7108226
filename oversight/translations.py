"""Translation lookups that find the catalog once per request.

Flask-Babel's ``gettext`` finds the app's translations afresh on every call (context,
locale, domain, cache lookups: about 10 µs). A queue page calls it a few hundred times,
from the labels of each row and the column names the phone layout repeats in each cell,
and this was a tenth of the page's time. Here the translations object is looked up once
per app context (``g``) and reused; the locale is fixed per request, so nothing changes
but the cost. The templates (``install``) and the domain's labels
(``workflows.i18n.set_translator``) both use it.
"""

from __future__ import annotations

import functools

from babel import support
from flask import Flask, Request, g, has_app_context
from flask_babel import get_locale, get_translations
from werkzeug.utils import cached_property
from wtforms.i18n import messages_path


def _catalog():
    if not has_app_context():
        return get_translations()  # the msgids themselves, as Flask-Babel does
    try:
        return g._oversight_translations
    except AttributeError:
        g._oversight_translations = get_translations()
        return g._oversight_translations


def gettext(message: str) -> str:
    return _catalog().ugettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _catalog().ungettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return _catalog().upgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return _catalog().unpgettext(context, singular, plural, n)


@functools.cache
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class OversightRequest(Request):
    @cached_property
    def wtforms_translations(self) -> support.Translations:
        """WTForms' own messages (a field's length, an invalid choice) in the request's
        locale, read from disk once per process and locale. Flask-WTF looks for this
        attribute on the request before loading the catalog itself, which it otherwise
        did on every request that built a form (parsing the .mo file each time)."""
        return _wtforms_catalog(str(get_locale()))


def install(app: Flask) -> None:
    """Give the templates' ``_``/``gettext``/``ngettext`` the cached lookups (Jinja's
    new-style gettext: its autoescaping and ``%(name)s`` formatting are unchanged), and
    the requests WTForms' catalog read once (``OversightRequest``)."""
    app.request_class = OversightRequest
    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=ngettext,
                                            pgettext=pgettext, npgettext=npgettext,
                                            newstyle=True)
