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

from flask import Flask, g, has_app_context
from flask_babel import get_translations


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


def install(app: Flask) -> None:
    """Give the templates' ``_``/``gettext``/``ngettext`` the cached lookups (Jinja's
    new-style gettext: its autoescaping and ``%(name)s`` formatting are unchanged)."""
    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=ngettext,
                                            pgettext=pgettext, npgettext=npgettext,
                                            newstyle=True)
