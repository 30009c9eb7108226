"""Money in integer fen (分). No float ever touches an amount: text typed in yuan is parsed
digit by digit, and instalments are split with integer division and the remainder spread."""

from __future__ import annotations

import re
from collections.abc import Sequence

from workflows.i18n import N_, translate

#: Largest amount accepted anywhere: 100 million yuan, far above any recovery.
MAX_FEN = 100_000_000 * 100
_AMOUNT = re.compile(r"^(\d+)(?:\.(\d{1,2}))?$")
_TOO_PRECISE = re.compile(r"^\d+\.\d{3,}$")
#: Characters a person may type around an amount (comma, full-width comma, yen signs, the
#: character for yuan), dropped before parsing; written as code points because they are
#: input to accept, not text to translate.
_IGNORED = str.maketrans("", "", "".join(map(chr, (0x2C, 0xFF0C, 0xA5, 0xFFE5, 0x5143))))


class MoneyError(ValueError):
    """Text that is not an acceptable amount; ``str()`` is the message for the user."""


def parse_yuan(text: str | None) -> int:
    """'1,234.5' -> 123450 fen. Refuses empty, negative, zero, over-precise and huge."""
    # Thousands separators (also the full-width comma), a leading ¥ and a trailing 元.
    raw = (text or "").strip().translate(_IGNORED).strip()
    if not raw:
        raise MoneyError(translate(N_("请填写金额")))
    if raw.startswith("-"):
        raise MoneyError(translate(N_("金额不能为负数")))
    if _TOO_PRECISE.match(raw):
        raise MoneyError(translate(N_("金额最多精确到分（小数点后两位）")))
    match = _AMOUNT.match(raw)
    if match is None:
        raise MoneyError(translate(N_("请填写数字金额，单位为元，例如 1234.56")))
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if fen == 0:
        raise MoneyError(translate(N_("金额必须大于零")))
    if fen > MAX_FEN:
        raise MoneyError(translate(N_("金额超出可登记的上限")))
    return fen


def format_fen(fen: int) -> str:
    """123450 -> '1,234.50' (yuan, two decimals, thousands separated)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def split_fen(total: int, parts: int) -> list[int]:
    """Split ``total`` fen into ``parts`` instalments that sum exactly: the first
    ``total % parts`` instalments carry one fen more (100000 in 3 -> 33334, 33333, 33333)."""
    if parts < 1:
        raise ValueError("at least one instalment")
    if total < parts:
        raise ValueError("fewer fen than instalments")
    base, extra = divmod(total, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def allocate(amounts: Sequence[int], paid: int) -> list[int]:
    """How much of each instalment (in order) ``paid`` fen covers: oldest first."""
    out = []
    for amount in amounts:
        covered = min(amount, max(paid, 0))
        out.append(covered)
        paid -= covered
    return out
