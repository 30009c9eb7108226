"""Jurisdiction policy packs: what each regulation says, with the words it says it in.

A *pack* is one regulation on auxiliary police (辅警) turned into data the case workflows
consult: complaint categories, disciplinary measures, recusal rules, time limits and the rule
each step rests on. Every local citation carries the exact words of its article, and the
loader checks those words against the regulation text on disk, so a screen can never show a
quote the regulation does not contain. Where a local text is silent the pack falls back to
the national default pack (``national.yaml``), and says so (``Rule.fallback``).

Pure Python + PyYAML: no Flask, no database. Run ``python -m workflows.policy`` to validate.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

POLICY_DIR = Path(__file__).resolve().parent / "policies"
NATIONAL_ID = "national"
PRACTICE_SOURCE = "全国公安机关警务辅助人员管理通行做法"  # not a document: no 《》, no article
NO_ARTICLE = "—"
FALLBACK_NOTE = "本规定未作规定，适用国家规定"

RULE_KEYS = (
    "complaint_channel", "complainant_told_result", "officer_statement", "recusal_grounds",
    "recusal_applicants", "suspension", "measures", "recovery", "clarification",
    "appeal_right", "complaint_refusal", "complaint_transfer", "complaint_review",
    "recovery_civil", "union_notice", "supervisor_referral", "complaint_extension",
    "complaint_recheck",
)
LIMIT_KEYS = (
    "acknowledge", "conclude", "extend_max", "review_request", "review_answer",
    "recheck_request", "recheck_answer", "recusal_decide", "recusal_reconsider_request",
    "recusal_reconsider_answer", "statement_window", "appeal_window", "suspension_max",
)


class PolicyError(Exception):
    """A pack is malformed or cites words its regulation does not contain."""


# --------------------------------------------------------------------------- article texts

_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0}
_NUM = "零〇一二三四五六七八九十百千"
_HEADING = re.compile(rf"^\*{{0,2}}(第[{_NUM}]+条)(?:\*\*|\s+|$)")
_CHAPTER = re.compile(rf"^第[{_NUM}]+章")
_ARTICLE_REF = re.compile(rf"^第[{_NUM}]+条(、第[{_NUM}]+条)*$")
_PUBLICATION = re.compile(r"^[(（][^()（）]*(通过|公布|施行)[^()（）]*[)）]$")
_ARTIFACT = re.compile(r"\[bookmark:[^\]]*\]")
_BULLET = re.compile(r"^-\s+")
_SPACE = re.compile(r"\s+")  # str patterns: includes U+3000 ideographic space
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def normalize(text: str) -> str:
    """Delete all whitespace (PDF line breaks, full-width spaces) so texts compare exactly."""
    return _SPACE.sub("", text)


def cn_number(numeral: str) -> int:
    """'二十四' -> 24, '一百零五' -> 105, '一千一百九十一' -> 1191."""
    total = current = 0
    for ch in numeral:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in "十百千":
            total += (current or 1) * {"十": 10, "百": 100, "千": 1000}[ch]
            current = 0
        else:
            raise ValueError(f"not a Chinese numeral: {numeral!r}")
    return total + current


def article_number(article: str) -> int:
    """'第二十四条' -> 24."""
    if not (article.startswith("第") and article.endswith("条")):
        raise ValueError(f"not an article heading: {article!r}")
    return cn_number(article[1:-1])


def parse_articles(text: str) -> dict[str, str]:
    """Map '第二十四条' to that article's whole text (all paragraphs, whitespace removed).

    Handles the quirks of the stored texts: full-width indents, PDF lines broken mid-sentence,
    markdown (``**第一条**``, ``- `` bullets, ``##`` page headers), chapter headings, Word
    bookmark debris and a publication note repeated inside an article by a page break.
    """
    articles: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = _BULLET.sub("", _ARTIFACT.sub("", raw).strip())
        if not line or line.startswith("#") or _CHAPTER.match(line) or _PUBLICATION.match(line):
            continue
        heading = _HEADING.match(line)
        if heading:
            key = heading.group(1)
            if key in articles:
                raise PolicyError(f"article {key} appears twice")
            current = articles[key] = []
            line = line[heading.end():]
        if current is not None:
            current.append(line.replace("**", ""))
    return {key: normalize("".join(parts)) for key, parts in articles.items()}


@functools.cache
def _articles_of(path: Path) -> Mapping[str, str]:
    return MappingProxyType(parse_articles(path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a rule comes from. Local citations quote the article's exact words (verified at
    load); national ones hold only a gist (要旨), because those texts are not on disk and a
    paraphrase must never be passed off as the law's own words."""

    source: str  # regulation title without 《》, or PRACTICE_SOURCE
    article: str  # '第二十四条', '第二十二条、第二十三条', or '—' for practice
    quote: str
    national: bool

    @property
    def practice(self) -> bool:
        return self.article == NO_ARTICLE

    @property
    def label(self) -> str:
        return self.source if self.practice else f"《{self.source}》{self.article}"

    @property
    def quote_kind(self) -> str:
        return "要旨" if self.national else "原文"


@dataclass(frozen=True, slots=True)
class Rule:
    """The basis for one workflow step. ``fallback`` is True when the local text is silent
    and the national default applies; ``note`` says so on screen."""

    key: str
    citation: Citation
    fallback: bool
    note: str


@dataclass(frozen=True, slots=True)
class Category:
    """A complaint category, taken from the regulation's list of prohibited conduct."""

    code: str
    label: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Ground:
    """One enumerated ground: of recusal, or on which a measure may be taken."""

    code: str
    label: str
    citation: Citation


#: What carrying out a measure does to the officer's record.
MEASURE_EFFECTS = ("none", "demote", "end_employment")


@dataclass(frozen=True, slots=True)
class Measure:
    """A disciplinary measure; ``severity`` 1 is the lightest, unique within a pack so
    measures can be ordered and compared. ``national_practice`` marks measures the local
    text does not name. ``effect`` is what executing it changes (a level, the employment);
    ``grounds``, where the text lists them (四川 第三十二条), must be chosen from."""

    code: str
    label: str
    severity: int
    citation: Citation
    national_practice: bool
    effect: str = "none"
    grounds: tuple[Ground, ...] = ()

    @property
    def ends_employment(self) -> bool:
        return self.effect == "end_employment"

    def ground(self, code: str) -> Ground | None:
        return next((g for g in self.grounds if g.code == code), None)


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who may ask for an officer's recusal (当事人, 法定代理人, …)."""

    code: str
    label: str


class Unit(Enum):
    """Unit of a time limit; working days are counted by the calendar service, not here."""

    calendar_days = "calendar_days"
    working_days = "working_days"
    hours = "hours"
    months = "months"

    @property
    def label(self) -> str:
        return {"calendar_days": "自然日", "working_days": "工作日", "hours": "小时",
                "months": "个月"}[self.value]


@dataclass(frozen=True, slots=True)
class Limit:
    """A time limit a case clock runs against, with the rule that sets it."""

    key: str
    amount: int
    unit: Unit
    citation: Citation


@dataclass(frozen=True, slots=True, eq=False)
class Pack:
    """Everything one jurisdiction's regulation decides, merged over the national defaults.
    Compared and hashed by identity: packs are loaded once and shared."""

    id: str
    name: str
    short_name: str
    text_file: str | None
    in_force: date | None
    draft: bool
    rules: Mapping[str, Rule]
    categories: tuple[Category, ...]
    measures: tuple[Measure, ...]
    recusal_grounds: tuple[Ground, ...]
    recusal_grounds_enumerated: bool
    recusal_applicants: tuple[Applicant, ...]
    suspension_mandatory: bool
    recovery_mandatory: bool
    limits: Mapping[str, Limit]

    @property
    def is_national(self) -> bool:
        return self.id == NATIONAL_ID

    def rule(self, key: str) -> Rule:
        return self._find("rule", key, self.rules.get(key))

    def limit(self, key: str) -> Limit:
        return self._find("limit", key, self.limits.get(key))

    def category(self, code: str) -> Category:
        return self._find("category", code, *(c for c in self.categories if c.code == code))

    def measure(self, code: str) -> Measure:
        return self._find("measure", code, *(m for m in self.measures if m.code == code))

    def _find(self, kind: str, key: str, found: Any = None, *_: Any) -> Any:
        if found is None:
            raise PolicyError(f"pack {self.id}: no {kind} '{key}'")
        return found


# --------------------------------------------------------------------------- loading

_REQUIRED = object()


class _Node:
    """A YAML mapping read strictly: wrong types, missing and unknown keys are errors."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise PolicyError(f"{where}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.seen = data, where, set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise PolicyError(f"{self.where}: missing '{key}'")
            return default
        value, kinds = self.data[key], kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise PolicyError(f"{self.where}.{key}: unexpected value {value!r}")
        if isinstance(value, str) and not value.strip():
            raise PolicyError(f"{self.where}.{key}: empty")
        return value

    def close(self) -> None:
        unknown = set(self.data) - self.seen
        if unknown:
            raise PolicyError(f"{self.where}: unknown keys {sorted(map(str, unknown))}")


class _Loader:
    """Builds one pack; ``national`` is None while building the national pack itself."""

    def __init__(self, node: _Node, national: Pack | None, texts: Path):
        self.node, self.national, self.pid = node, national, node.where
        self.name = node.get("name", str)
        if "《" in self.name or "》" in self.name:
            raise PolicyError(f"{self.pid}: write the title without 《》")
        self.articles: Mapping[str, str] = {}
        if national is not None:
            path = texts / node.get("text_file", str)
            if not path.is_file():
                raise PolicyError(f"{self.pid}: text file {path} not found")
            self.articles = _articles_of(path)

    def fail(self, message: str) -> PolicyError:
        return PolicyError(f"pack {self.pid}: {message}")

    def cite(self, n: _Node, what: str) -> Citation:
        article = n.get("article", str).strip()
        if self.national is None:  # national pack: a gist from a text we do not hold
            source = n.get("source", str).strip()
            if (article == NO_ARTICLE) != (source == PRACTICE_SOURCE):
                raise self.fail(f"{what}: article '—' goes with {PRACTICE_SOURCE} only")
            if article != NO_ARTICLE and not _ARTICLE_REF.match(article):
                raise self.fail(f"{what}: bad article {article!r}")
            if "《" in source:
                raise self.fail(f"{what}: write the source without 《》")
            return Citation(source, article, n.get("gist", str).strip(), True)
        quote = normalize(n.get("quote", str))
        if article not in self.articles:
            raise self.fail(f"{what}: no article {article} in the text")
        if quote not in self.articles[article]:
            raise self.fail(f"{what}, {article}: quote not in the text: {quote!r}")
        return Citation(self.name, article, quote, False)

    def items(self, kind: str, raw: Any, make) -> tuple[Any, ...]:
        """Build a list of entries; ``{code: x, national: true}`` takes the national x."""
        pool = getattr(self.national, kind, ())
        if not isinstance(raw, list):
            raise self.fail(f"{kind}: expected a list")
        out = []
        for i, value in enumerate(raw):
            n = _Node(value, f"{self.pid}.{kind}[{i}]")
            if n.get("national", bool, False):
                code = n.get("code", str)
                item = next((x for x in pool if x.code == code), None)
                if item is None:
                    raise self.fail(f"{kind}: the national pack has no '{code}'")
            else:
                item = make(n, n.get("code", str))
            n.close()
            if not _CODE.match(item.code):
                raise self.fail(f"{kind}: bad code {item.code!r} (lower-case ascii slug)")
            out.append(item)
        _unique(self, kind, [x.code for x in out])
        return tuple(out)

    def rules(self) -> dict[str, Rule]:
        raw, out = _Node(self.node.get("rules", dict), f"{self.pid}.rules"), {}
        for key in RULE_KEYS:
            n = _Node(raw.get(key, dict), f"{self.pid}.rules.{key}")
            if self.national is not None and n.get("fallback", bool, False):
                base = self.national.rules[key]
                out[key] = Rule(key, base.citation, True, n.get("note", str, FALLBACK_NOTE))
            else:
                out[key] = Rule(key, self.cite(n, f"rule {key}"), False, n.get("note", str, ""))
            n.close()
        raw.close()
        return out

    def categories(self) -> tuple[Category, ...]:
        out = self.items("categories", self.node.get("categories", list),
                         lambda n, code: Category(code, n.get("label", str),
                                                  self.cite(n, f"category {code}")))
        labels = {c.code: c.label for c in out}
        if labels.get("other") != "其他":
            raise self.fail("categories must include 'other' labelled 其他")
        if any(len(label) > 16 for label in labels.values()):
            raise self.fail("category labels are at most 16 characters")
        return out

    def measures(self) -> tuple[Measure, ...]:
        def make(n: _Node, code: str) -> Measure:
            label, severity = n.get("label", str), n.get("severity", int)
            cite = self.cite(n, f"measure {code}")
            if not cite.national and label not in cite.quote:
                raise self.fail(f"measure {label} is not named in its quote")
            effect = n.get("effect", str, "none")
            if effect not in MEASURE_EFFECTS:
                raise self.fail(f"measure {code}: effect must be one of {MEASURE_EFFECTS}")
            grounds = self.items("measure grounds", n.get("grounds", list, []),
                                 lambda g, gcode: Ground(gcode, g.get("label", str),
                                                         self.cite(g, f"ground {gcode}")))
            return Measure(code, label, severity, cite, cite.national, effect, grounds)

        out = self.items("measures", self.node.get("measures", list), make)
        if not out or any(m.severity < 1 for m in out):
            raise self.fail("measures must be present, with positive severities")
        _unique(self, "measure severity", [m.severity for m in out])
        return tuple(sorted(out, key=lambda m: m.severity))

    def recusal(self, rules: Mapping[str, Rule]) -> tuple[tuple, tuple]:
        n = _Node(self.node.get("recusal", dict), f"{self.pid}.recusal")
        result = []
        for key, attr in (("grounds", "recusal_grounds"), ("applicants", "recusal_applicants")):
            raw = n.get(key, (list, str))
            if (raw == "national") != rules[attr].fallback:
                raise self.fail(f"recusal {key} must be 'national' exactly when rule {attr} "
                                f"is a fallback")
            if raw == "national" and self.national is not None:
                result.append(getattr(self.national, attr))
            elif key == "grounds":
                result.append(self.items(attr, raw, lambda g, code: Ground(
                    code, g.get("label", str), self.cite(g, f"recusal ground {code}"))))
            else:
                result.append(self.items(attr, raw, lambda a, code: Applicant(
                    code, a.get("label", str))))
                quote = rules[attr].citation.quote
                if not result[-1] or any(a.label not in quote for a in result[-1]):
                    raise self.fail("recusal applicants must each be named in rule "
                                    "recusal_applicants' quote")
        n.close()
        return result[0], result[1]

    def limits(self) -> dict[str, Limit]:
        local = self.national is not None
        raw = self.node.get("limits", dict, {}) if local else self.node.get("limits", dict)
        out = dict(self.national.limits) if local else {}
        for key, value in raw.items():
            if key not in LIMIT_KEYS:
                raise self.fail(f"unknown limit '{key}'")
            n = _Node(value, f"{self.pid}.limits.{key}")
            amount, unit = n.get("amount", int), n.get("unit", str)
            if amount <= 0 or unit not in Unit.__members__:
                raise self.fail(f"limit {key}: amount must be positive and unit one of "
                                f"{list(Unit.__members__)}")
            out[key] = Limit(key, amount, Unit[unit], self.cite(n, f"limit {key}"))
            n.close()
        missing = [k for k in LIMIT_KEYS if k not in out]
        if missing:
            raise self.fail(f"missing limits {missing}")
        return {k: out[k] for k in LIMIT_KEYS}

    def flag(self, key: str, rule: Rule) -> bool:
        value = self.node.get(key, bool)
        if rule.fallback and value != getattr(self.national, key):
            raise self.fail(f"{key} must follow the national default: rule {rule.key} is a "
                            f"fallback")
        return value

    def build(self) -> Pack:
        n, local = self.node, self.national is not None
        rules = self.rules()
        grounds, applicants = self.recusal(rules)
        draft = n.get("draft", bool) if local else False
        in_force = n.get("in_force", (date, type(None))) if local else None
        if local and in_force is None and not draft:
            raise self.fail("in_force may be null only for a draft")
        pack = Pack(
            id=n.get("id", str), name=self.name, short_name=n.get("short_name", str),
            text_file=n.get("text_file", str) if local else None, in_force=in_force,
            draft=draft, rules=MappingProxyType(rules), categories=self.categories(),
            measures=self.measures(), recusal_grounds=grounds,
            recusal_grounds_enumerated=bool(grounds), recusal_applicants=applicants,
            suspension_mandatory=self.flag("suspension_mandatory", rules["suspension"]),
            recovery_mandatory=self.flag("recovery_mandatory", rules["recovery"]),
            limits=MappingProxyType(self.limits()),
        )
        n.close()
        return pack


def _unique(loader: _Loader, kind: str, values: list[Any]) -> None:
    dupes = sorted({str(v) for v in values if values.count(v) > 1})
    if dupes:
        raise loader.fail(f"duplicate {kind} {dupes}")


def _load_one(path: Path, national: Pack | None, texts: Path) -> Pack:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path.name}: invalid YAML: {exc}") from exc
    node = _Node(data, path.stem)
    if node.get("id", str) != path.stem:
        raise PolicyError(f"{path.name}: id must equal the file name '{path.stem}'")
    return _Loader(node, national, texts).build()


def load_packs(directory: Path | None = None) -> dict[str, Pack]:
    """Load and validate every pack: ``national.yaml`` first, then each other ``*.yaml``
    merged over it. Raises :class:`PolicyError` on the first problem found."""
    directory = Path(directory) if directory is not None else POLICY_DIR
    national_path = directory / f"{NATIONAL_ID}.yaml"
    if not national_path.is_file():
        raise PolicyError(f"{national_path} not found")
    texts = directory / "texts"
    packs = {NATIONAL_ID: _load_one(national_path, None, texts)}
    for path in sorted(directory.glob("*.yaml")):
        if path != national_path:
            packs[path.stem] = _load_one(path, packs[NATIONAL_ID], texts)
    return packs


@functools.cache
def get_packs() -> Mapping[str, Pack]:
    """The packs shipped with the application, loaded once per process (read-only)."""
    return MappingProxyType(load_packs())


def main() -> int:
    try:
        packs = load_packs()
    except PolicyError as exc:
        print(f"policy error: {exc}", file=sys.stderr)
        return 1
    for pack in packs.values():
        print(f"{pack.id}: {len(pack.rules)} rules, {len(pack.categories)} categories, "
              f"{len(pack.measures)} measures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
