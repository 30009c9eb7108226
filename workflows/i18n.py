"""Translation hooks for the pure domain, which must not import Flask.

Literals a person sees are marked with :func:`N_` (so ``pybabel extract`` finds them) and
looked up at display time with :func:`translate`. The app plugs its gettext in with
:func:`set_translator`; until then ``translate`` returns the Chinese msgid unchanged.

Policy packs (``workflows/policies/*.yaml``) and the labels in ``workflows/policy.py`` are
quotations of legal texts and pack data, not UI strings: they are never marked here.
"""

from __future__ import annotations

from collections.abc import Callable


def _identity(message: str) -> str:
    return message


_translator: Callable[[str], str] = _identity


def N_(message: str) -> str:
    """Mark a literal for extraction; returns it unchanged."""
    return message


def set_translator(fn: Callable[[str], str] | None) -> None:
    """Install the function that translates a msgid (``None`` restores the identity)."""
    global _translator
    _translator = fn or _identity


def translate(message: str) -> str:
    """Translate a msgid marked with :func:`N_`. The empty string stays empty (gettext
    would return the catalog header for it)."""
    if not message:
        return message
    return str(_translator(message))
