"""Scale seeding for the performance work (issue 8): realistic cases of every type, in
every state, with their events, clocks, notices and officers, bulk-inserted.

``seed(engine_or_url, n_cases, seed=...)`` builds on what the database already holds: the
demo organ trees (``oversight seed-demo``) are extended into five realistic trees (province
or city bureau, then cities or branches, then districts and stations: the organs of
``bench/search_corpus.py`` plus the demo ones), officers and staff accounts are added in
proportion to the total number of cases, then ``n_cases`` cases are written:

- complaints through every state, some investigated (the investigation opens from them,
  concludes them and may suspend, discipline and lead to an appeal), transferred,
  merged, reviewed (复查) and rechecked (复核, with hearings);
- recusal applications by the four routes, investigations on the organ's own initiative
  or assigned down, duty suspensions (automatic in Yunnan), disciplinary decisions with
  statements, serving, execution (the officer's level and employment change), appeals,
  and compensation recoveries with instalments and payments;
- 督办 on overdue cases and early-intervention flags for officers whose accepted
  complaints reach the default threshold (3 in 12 months, or 2 of one category).

Each case's events follow its state table (``workflows/``): the clocks a row starts,
stops, cancels, pauses or resumes, the notices it issues and the article it cites come
from the table and the organ's pack, and the event log is hash-chained with the app's own
``events.compute_hash``, so ``oversight verify-log`` passes. Case and notice numbers use
the app's format and yearly counters, which are advanced (``number_sequence``), and on
PostgreSQL the id sequences are moved past the rows written: real submissions afterwards
never collide. Every case gets one search outbox row: ``oversight index`` (or the app's
inline indexing) picks them up, and ``oversight reindex`` rebuilds the index in one pass.

Cases begin evenly over the two years before ``now`` and are in the states a case of
their age plausibly is in (recent ones mostly open, old ones mostly closed). Rows go in
with one ``executemany`` per table and batch on SQLite (``synchronous=OFF`` while
seeding) and ``COPY`` on PostgreSQL, committed batch by batch; nothing goes through the
web or the services. Every value comes from ``random.Random(seed)`` and the anchor time
``now``: the same database, seed, size and ``now`` give the same rows. Seeding assumes no
other writer meanwhile. Notice bodies are short plain texts in the notices' shape (header,
number, case, article, date), not the full templates; no mail, attachments or reminders.

This module writes and runs; ``seed_stories.py`` and ``seed_chains.py`` tell how each case
came to be where it is.

    .venv/bin/python bench/seed_scale.py --cases 100000 --db sqlite:////tmp/ov.db
    .venv/bin/python bench/seed_scale.py --cases 100000 \\
        --db 'postgresql://postgres@/ov?host=/tmp/shared-pg&port=54330'
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import itertools
import json
import math
import operator
import queue
import random
import re
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "bench")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import search_corpus as corpus  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from seed_chains import DAY, UTC, Draft  # noqa: E402
from seed_stories import StoryBook  # noqa: E402

from oversight import register_case_types  # noqa: E402

DEFAULT_SEED = 20261208
#: The demo organ: the first cases of every run cover every (type, state) pair there, so
#: the demo logins (intake, inspector, leader, officer at BJ-CY) see every state.
FOCUS = "BJ-CY"

#: Badge prefixes by tree root, as the demo officers have them (BJ10001, YN50001...).
BADGE_PREFIX = {"BJ": "BJ1", "PV": "PV2", "SC": "SC3", "NT": "NT4", "YN": "YN5"}

#: Staff per organ above the stations, by role: base + total cases // per, capped.
STAFF = {"intake": (1, 1000, 4), "inspector": (1, 700, 10), "leader": (2, 1000, 5)}
OFFICERS_PER_CASE = 1 / 3
MIN_OFFICERS_PER_STATION = 6
OFFICER_ACCOUNT_SHARE = 0.03


# --------------------------------------------------------------------------- the tree

def _stem(name: str) -> str:
    for suffix in ("派出所", "分局", "市公安局", "公安局"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def tree_plan(seed: int) -> corpus.Tree:
    """The organs: ``search_corpus``'s five trees (225 organs) plus the demo organs of
    ``oversight.seed`` that it lacks, parents first. Officers are filled in later."""
    from oversight.seed import TREES

    tree = corpus.build_tree(seed)
    tree.officers = []
    known = {o.key for o in tree.organs}
    shares = {pack: spec[2] for pack, spec in corpus.JURISDICTIONS.items()}
    for pack_id, (code, name, children) in TREES.items():
        plate = corpus.PLATES[code]
        station_weight = shares[pack_id] / 4 * 0.9 / corpus.STATIONS_PER_BRANCH
        if code not in known:
            tree.organs.append(corpus.OrganSpec(code, name, pack_id, None, 1, plate=plate))
        for child_code, child_name, grandchild in children:
            if child_code not in known:
                tree.organs.append(corpus.OrganSpec(child_code, child_name, pack_id, code, 2,
                                                    stem=_stem(child_name), plate=plate))
                tree.weights[child_code] = station_weight
            if grandchild and grandchild[0] not in known:
                tree.organs.append(corpus.OrganSpec(grandchild[0], grandchild[1], pack_id,
                                                    child_code, 3, stem=_stem(grandchild[1]),
                                                    plate=plate))
                tree.weights[grandchild[0]] = station_weight
    return tree


class _Texts(corpus.CorpusGenerator):
    """The search corpus's complaint rows (narrative, place, officer, category), with the
    organ forced when asked and the incident placed where the story needs it."""

    forced: str | None = None

    def _organ(self):
        if self.forced is not None:
            return self.organ_by_code[self.forced]
        return super()._organ()

    def complaint(self, organ: str | None, filed_at: dt.datetime) -> dict:
        self.forced = organ
        self.start = filed_at - dt.timedelta(hours=self.rng.randint(3, 24 * 12))
        self.span_s = 3600
        try:
            row = self.row()
        finally:
            self.forced = None
        return row


# --------------------------------------------------------------------------- writing

def _sqlite_dt(value: dt.datetime) -> str:
    """What SQLAlchemy stores for a naive UTC time on SQLite: 2026-01-02 03:04:05.000000."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


class Sink:
    """Bulk writer over one DBAPI connection: ``executemany`` on SQLite, ``COPY`` on
    PostgreSQL; values converted per column type up front."""

    def __init__(self, engine: sa.Engine, metadata: sa.MetaData):
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database: {self.dialect}")
        self.metadata = metadata
        self.raw = engine.raw_connection()
        self.dbapi = self.raw.driver_connection
        self._plans: dict[str, tuple] = {}
        self._makers: dict[tuple, Any] = {}
        self._restore: list[str] = []
        self.seconds = 0.0  # spent writing
        if self.dialect == "sqlite":
            self.dbapi.isolation_level = None  # BEGIN and COMMIT are ours
            cur = self.dbapi.cursor()
            for pragma, value in (("foreign_keys", "OFF"), ("synchronous", "OFF")):
                old = cur.execute(f"PRAGMA {pragma}").fetchone()[0]
                self._restore.append(f"PRAGMA {pragma}={old}")
                cur.execute(f"PRAGMA {pragma}={value}")
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA cache_size=-262144")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()
            self.dbapi.execute("BEGIN")

    # -- batches written by a thread of their own while the next batch is made
    def start_writer(self) -> None:
        self._batches: queue.Queue = queue.Queue(maxsize=2)
        self._failed: BaseException | None = None
        self._writer = threading.Thread(target=self._drain, name="seed-writer", daemon=True)
        self._writer.start()

    def write(self, batch: list[tuple[str, list[dict]]], after) -> None:
        """Insert ``batch`` ((table, rows) in order), run ``after(sink)`` and commit: on the
        writer thread once started, else here."""
        if getattr(self, "_writer", None) is None:
            self._write(batch, after)
            return
        if self._failed is not None:
            raise self._failed
        self._batches.put((batch, after))

    def stop_writer(self) -> None:
        """Wait for every batch to be written; raise what the writer failed with."""
        writer, self._writer = getattr(self, "_writer", None), None
        if writer is not None:
            self._batches.put(None)
            writer.join()
            if self._failed is not None:
                raise self._failed

    def _drain(self) -> None:
        while (item := self._batches.get()) is not None:
            if self._failed is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # handed to the seeding thread
                    self._failed = exc

    def _write(self, batch: list[tuple[str, list[dict]]], after) -> None:
        for table, rows in batch:
            self.insert(table, rows)
        after(self)
        self.commit()

    def close(self) -> None:
        try:
            self.stop_writer()
        except BaseException:
            pass  # the seeding thread raised it already, or is raising something else
        try:
            if self.dialect == "sqlite":
                if self.dbapi.in_transaction:
                    self.dbapi.execute("ROLLBACK")
                for statement in self._restore:
                    self.dbapi.execute(statement)
            else:
                self.dbapi.rollback()
        finally:
            self.raw.close()

    def commit(self) -> None:
        if self.dialect == "sqlite":
            self.dbapi.execute("COMMIT")
            self.dbapi.execute("BEGIN")
        else:
            self.dbapi.commit()

    def execute(self, sql: str, params: tuple = ()) -> list:
        cur = self.dbapi.cursor()
        try:
            if self.dialect == "postgresql":
                sql = sql.replace("?", "%s")
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
        finally:
            cur.close()

    def _row_maker(self, name: str, used: tuple[int, ...]):
        """A function from a row dict to the values of the ``used`` columns, converted:
        compiled once per table and set of columns (it runs for every row written)."""
        key = (name, used)
        maker = self._makers.get(key)
        if maker is None:
            names, convert, defaults = self._plan(name)
            scope, parts = {}, []
            for i in used:
                scope[f"d{i}"], scope[f"f{i}"] = defaults[i], convert[i]
                get = f"row.get({names[i]!r}, d{i})"
                parts.append(get if convert[i] is None else
                             f"(None if (v{i} := {get}) is None else f{i}(v{i}))")
            exec(f"def make(row):\n    return ({', '.join(parts)},)", scope)
            maker = self._makers[key] = scope["make"]
        return maker

    def _plan(self, name: str) -> tuple:
        plan = self._plans.get(name)
        if plan is not None:
            return plan
        from oversight.models.base import UTCDateTime

        table = self.metadata.tables[name]
        names, convert, defaults = [], [], []
        for col in table.columns:
            names.append(col.name)
            kind = col.type
            if isinstance(kind, UTCDateTime):
                fn = _sqlite_dt if self.dialect == "sqlite" else None
            elif isinstance(kind, sa.Enum):
                fn = _enum_value
            elif isinstance(kind, sa.JSON):
                fn = json.dumps if self.dialect == "sqlite" else _pg_json()
            elif isinstance(kind, sa.Date) and self.dialect == "sqlite":
                fn = dt.date.isoformat
            elif isinstance(kind, sa.Boolean) and self.dialect == "sqlite":
                fn = int
            else:
                fn = None
            convert.append(fn)
            default = col.default
            if default is not None and default.is_scalar:
                defaults.append(default.arg)
            elif col.server_default is not None or col.nullable or col.primary_key:
                defaults.append(None)
            else:
                defaults.append(_REQUIRED)
        plan = self._plans[name] = (names, convert, defaults)
        return plan

    def insert(self, name: str, rows: list[dict]) -> None:
        if not rows:
            return
        started = time.perf_counter()
        try:
            self._insert(name, rows)
        finally:
            self.seconds += time.perf_counter() - started

    def _insert(self, name: str, rows: list[dict]) -> None:
        names, convert, defaults = self._plan(name)
        present = set().union(*map(dict.keys, rows))
        used = tuple(i for i, n in enumerate(names) if n in present or defaults[i] is not None)
        for i in used:
            if defaults[i] is _REQUIRED and \
                    sum(map(operator.contains, rows, itertools.repeat(names[i]))) < len(rows):
                raise ValueError(f"{name}.{names[i]} missing")
        tuples = list(map(self._row_maker(name, used), rows))
        columns = ", ".join(f'"{names[i]}"' for i in used)
        if self.dialect == "sqlite":
            marks = ", ".join("?" for _ in used)
            self.dbapi.executemany(f'INSERT INTO "{name}" ({columns}) VALUES ({marks})', tuples)
        else:
            cur = self.dbapi.cursor()
            try:
                with cur.copy(f'COPY "{name}" ({columns}) FROM STDIN') as copy:
                    for values in tuples:
                        copy.write_row(values)
            finally:
                cur.close()


class _Required:
    def __repr__(self) -> str:
        return "<required>"


_REQUIRED = _Required()


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _pg_json():
    from psycopg.types.json import Json

    return Json


# --------------------------------------------------------------------------- the seeder

class Seeder:
    def __init__(self, sink: Sink, n_cases: int, seed: int, now: dt.datetime,
                 focus: str | None, password_hash: str, batch: int):
        from oversight.services import registry
        from workflows.clocks import LOCAL_TZ
        from workflows.policy import get_packs

        register_case_types()
        self.sink = sink
        self.n = n_cases
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.tz = LOCAL_TZ
        self.focus = focus
        self.password_hash = password_hash
        self.batch = batch
        self.packs = get_packs()
        self.specs = {name: registry.spec_for(name) for name in registry.case_types()}
        self.remaining = n_cases
        self.pending: list[Draft] = []
        self.extra: dict[str, list[dict]] = defaultdict(list)
        self.counts: Counter = Counter()
        self.rows: Counter = Counter()
        self._due_cache: dict = {}
        self.titles: dict[str, str] = {}
        self._moves: dict[tuple, tuple] = {}
        self.clamped = 0

    # ---- ids, numbers, time
    def move(self, case_type: str, trigger: str) -> tuple:
        """A row of a state table, with its source states and destination as values."""
        found = self._moves.get((case_type, trigger))
        if found is None:
            t = self.specs[case_type].transition(trigger)
            if t is None:
                raise ValueError(f"{case_type}: no {trigger}")
            found = self._moves[(case_type, trigger)] = (
                t, frozenset(s.value for s in t.source), t.dest.value if t.dest else None)
        return found

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def number(self, prefix: str, at: dt.datetime) -> str:
        name = f"{prefix}{at.astimezone(self.tz).year}"
        value = self.sequences.get(name, 0) + 1
        self.sequences[name] = value
        self.sequences_touched.add(name)
        return f"{name}{value:06d}"

    def due(self, at: dt.datetime, amount: int, unit: str) -> dt.datetime:
        from workflows.clocks import ClockRangeError, due_at

        if unit == "hours":
            return due_at(at, amount, unit)
        key = (at.astimezone(self.tz).date(), amount, unit)
        found = self._due_cache.get(key)
        if found is None:
            try:
                found = due_at(at, amount, unit)
            except ClockRangeError:  # beyond the holiday calendar: count calendar days
                found = due_at(at, math.ceil(amount * 7 / 5) + 2, "calendar_days")
            self._due_cache[key] = found
        return found

    def later(self, at: dt.datetime, lo_hours: float, hi_hours: float) -> dt.datetime:
        """Some time after ``at``, never after ``now`` (a step the story has no time left
        for happens just before ``now``; the report counts them)."""
        t = at + dt.timedelta(seconds=self.rng.uniform(lo_hours, hi_hours) * 3600)
        if t > self.now:
            self.clamped += 1
            t = max(min(at, self.now),
                    self.now - dt.timedelta(seconds=self.rng.uniform(60, 3600)))
        return t

    def start_at(self, lo_days: float, hi_days: float) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.rng.uniform(lo_days, hi_days) * 86400)

    def pick(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    # ---- loading what is there
    def load(self) -> None:
        sink = self.sink
        tables = ["organ", "officer", "app_user", "complaint", "investigation", "suspension",
                  "discipline_decision", "appeal", "recovery", "recovery_payment", "recusal",
                  "evidence_entry", "case_event", "case_clock", "notice", "supervision",
                  "officer_flag", "conflict_declaration"]
        self.ids = Counter()
        for table in tables:
            self.ids[table] = sink.execute(f'SELECT MAX(id) FROM "{table}"')[0][0] or 0
        self.ids["search_outbox"] = sink.execute(
            "SELECT MAX(seq) FROM search_outbox")[0][0] or 0
        self.existing_cases = sum(
            sink.execute(f'SELECT COUNT(*) FROM "{t}"')[0][0]
            for t in ("complaint", "investigation", "suspension", "discipline_decision",
                      "appeal", "recovery", "recusal"))
        self.sequences = dict(sink.execute("SELECT name, value FROM number_sequence"))
        self.sequences_touched: set[str] = set()
        self.organs: dict[str, dict] = {}
        self.organ_by_id: dict[int, dict] = {}
        for oid, code, name, parent_id, pack_id, path in sink.execute(
                "SELECT id, code, name, parent_id, pack_id, path FROM organ ORDER BY id"):
            organ = {"id": oid, "code": code, "name": name, "parent_id": parent_id,
                     "pack_id": pack_id, "path": path}
            self.organs[code] = organ
            self.organ_by_id[oid] = organ
        self.officers: dict[int, dict] = {}
        for oid, badge, name, organ_id, level, employment in sink.execute(
                "SELECT id, badge_no, name, organ_id, level, employment FROM officer ORDER BY id"):
            self.officers[oid] = {"id": oid, "badge_no": badge, "name": name,
                                  "organ_id": organ_id, "level": level,
                                  "employment": employment}
        self.users: list[dict] = [
            {"id": uid, "username": username, "role": role, "organ_id": organ_id,
             "officer_id": officer_id}
            for uid, username, role, organ_id, officer_id in sink.execute(
                "SELECT id, username, role, organ_id, officer_id FROM app_user ORDER BY id")]
        self.held = {r[0] for r in sink.execute(  # (a set: only ever asked for membership)
            "SELECT officer_id FROM suspension WHERE state IN ('requested', 'active')")}
        self.open_flags = {(r[0], r[1], r[2]) for r in sink.execute(
            "SELECT officer_id, kind, category_code FROM officer_flag "
            "WHERE cleared_at IS NULL")}

    # ---- organs, officers, accounts
    def build_people(self) -> None:
        rng = self.rng
        tree = tree_plan(self.seed)
        new_organs = []
        for spec in tree.organs:
            if spec.key in self.organs:
                continue
            parent = self.organs[spec.parent] if spec.parent else None
            oid = self.next_id("organ")
            organ = {"id": oid, "code": spec.key, "name": spec.name, "pack_id": spec.pack_id,
                     "parent_id": parent["id"] if parent else None,
                     "path": f"{parent['path'] if parent else '/'}{oid}/"}
            self.organs[spec.key] = organ
            self.organ_by_id[oid] = organ
            new_organs.append({**organ, "created_at": self.now - 800 * DAY,
                               "updated_at": self.now - 800 * DAY})
        self.sink.insert("organ", new_organs)
        self.rows["organ"] += len(new_organs)
        for organ in self.organ_by_id.values():
            names, node = [], organ
            while node is not None:
                names.append(node["name"])
                node = self.organ_by_id.get(node["parent_id"])
            organ["full_name"] = "".join(reversed(names))
            organ["station"] = organ["name"].endswith("派出所")
            organ["chain"] = [int(p) for p in organ["path"].strip("/").split("/") if p][::-1]
            organ["children"] = []
        for organ in self.organ_by_id.values():
            if organ["parent_id"] in self.organ_by_id:
                self.organ_by_id[organ["parent_id"]]["children"].append(organ["id"])
        self.tree = tree

        # Officers: stations get most, branches a few; in proportion to all cases.
        total_cases = self.existing_cases + self.n
        stations = [o for o in self.organ_by_id.values() if o["station"]]
        branches = [o for o in self.organ_by_id.values()
                    if not o["station"] and o["parent_id"] is not None]
        target = max(len(stations) * MIN_OFFICERS_PER_STATION,
                     int(total_cases * OFFICERS_PER_CASE))
        missing = target - len(self.officers)
        counters = defaultdict(int)
        for officer in self.officers.values():
            for prefix in BADGE_PREFIX.values():
                m = re.fullmatch(prefix + r"(\d+)", officer["badge_no"])
                if m:
                    counters[prefix] = max(counters[prefix], int(m.group(1)))
        new_officers = []
        if missing > 0:
            per_branch = 3
            per_station = max(1, (missing - per_branch * len(branches)) // max(1, len(stations)))
            plan = [(o, per_branch) for o in branches] + [(o, per_station) for o in stations]
            for organ, count in plan:
                root = self.organ_by_id[organ["chain"][-1]]["code"]
                prefix = BADGE_PREFIX[root]
                for _ in range(rng.randint(max(1, count * 2 // 3), count * 4 // 3 + 1)):
                    counters[prefix] += 1
                    oid = self.next_id("officer")
                    officer = {
                        "id": oid, "badge_no": f"{prefix}{counters[prefix]:04d}",
                        "name": corpus._name(rng), "organ_id": organ["id"],
                        "category": "duty" if rng.random() < 0.75 else "civilian",
                        "level": rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 12, 8))[0],
                        "employment": "employed"}
                    self.officers[oid] = officer
                    new_officers.append({**officer, "created_at": self.now - 800 * DAY,
                                         "updated_at": self.now - 800 * DAY})
        self.sink.insert("officer", new_officers)
        self.rows["officer"] += len(new_officers)
        self.officer_by_badge = {o["badge_no"]: o for o in self.officers.values()}
        self.officers_at: dict[int, list[dict]] = defaultdict(list)
        for officer in self.officers.values():
            self.officers_at[officer["organ_id"]].append(officer)
        tree.officers = [corpus.OfficerSpec(o["badge_no"], o["name"],
                                            self.organ_by_id[o["organ_id"]]["code"])
                         for o in self.officers.values()]

        # Staff accounts above the stations, and a few officers' own accounts.
        have = Counter((u["organ_id"], u["role"]) for u in self.users)
        taken = {u["username"] for u in self.users}
        new_users = []

        def add_user(username, display, role, organ_id, officer_id=None):
            uid = self.next_id("app_user")
            user = {"id": uid, "username": username, "role": role, "organ_id": organ_id,
                    "officer_id": officer_id}
            self.users.append(user)
            taken.add(username)
            new_users.append({**user, "display_name": display,
                              "password_hash": self.password_hash, "active": True,
                              "email": "", "session_nonce": f"{rng.getrandbits(128):032x}",
                              "created_at": self.now - 700 * DAY,
                              "updated_at": self.now - 700 * DAY})

        role_names = {"intake": "受理员", "inspector": "督察", "leader": "审批领导"}
        for organ in sorted(self.organ_by_id.values(), key=lambda o: o["id"]):
            if organ["station"]:
                continue
            for role, (base, per, cap) in STAFF.items():
                want = min(cap, base + total_cases // per)
                k = have[(organ["id"], role)]
                while k < want:
                    k += 1
                    name = f"{organ['code'].lower()}-{role}-{k}"
                    if name not in taken:
                        add_user(name, f"{corpus._name(rng)}（{role_names[role]}）", role,
                                 organ["id"])
        has_account = {u["officer_id"] for u in self.users if u["officer_id"]}
        for officer in [o for o in new_officers if o["id"] not in has_account]:
            if rng.random() < OFFICER_ACCOUNT_SHARE:
                name = officer["badge_no"].lower()
                if name not in taken:
                    add_user(name, officer["name"], "officer", officer["organ_id"],
                             officer["id"])
        self.sink.insert("app_user", new_users)
        self.rows["app_user"] += len(new_users)
        self.account_of = {u["officer_id"]: u["id"] for u in self.users if u["officer_id"]}
        self.user_organ = {u["id"]: u["organ_id"] for u in self.users}
        self.username = {u["id"]: u["username"] for u in self.users}
        focus = self.organs.get(self.focus) if self.focus else None
        self.focus_officer = min(self.officers_at[focus["id"]], key=lambda o: o["id"]) \
            if focus and self.officers_at.get(focus["id"]) else None
        self.staff_at: dict[tuple[int, str], list[int]] = defaultdict(list)
        for u in self.users:
            self.staff_at[(u["organ_id"], u["role"])].append(u["id"])
        self.sink.commit()

        from workflows.policy import get_packs

        self.texts = _Texts(tree, get_packs(), {c: o["id"] for c, o in self.organs.items()},
                            {b: o["id"] for b, o in self.officer_by_badge.items()},
                            self.seed)

    # ---- who acts
    def staff(self, organ: dict, role: str, *, exclude: tuple = (), above: bool = False
              ) -> int | None:
        """A user of ``role`` at the organ or the nearest organ above that has one
        (strictly above with ``above``)."""
        for oid in organ["chain"][1:] if above else organ["chain"]:
            ids = [u for u in self.staff_at.get((oid, role), ()) if u not in exclude]
            if ids:
                return self.rng.choice(ids)
        return None

    def staff_organ(self, user_id: int) -> int:
        return self.user_organ[user_id]

    def officer_in(self, organ: dict, *, free: bool = False) -> dict:
        """An officer of the organ (or of its first unit that has some); ``free``: one
        without an open suspension, who may be suspended."""
        pools = [self.officers_at.get(organ["id"], [])]
        pools += [self.officers_at.get(child, []) for child in organ["children"]]
        for pool in pools:
            if free:
                pool = [o for o in pool if o["id"] not in self.held]
            if pool:
                return self.rng.choice(pool)
        return self.rng.choice(list(self.officers.values()))

    def any_organ(self) -> dict:
        return self.organs[self.texts._organ().key]

    # ---- drafts
    def draft(self, case_type: str, organ: dict, row: dict) -> Draft:
        table = {"discipline": "discipline_decision"}.get(case_type, case_type)
        row.setdefault("id", self.next_id(table))
        row.setdefault("version", 1)
        row.setdefault("updated_at", row["created_at"])
        row["organ_id"] = organ["id"]
        d = Draft(self, case_type, row, organ)
        self.pending.append(d)
        self.remaining -= 1
        return d

    def add(self, table: str, row: dict) -> None:
        self.extra[table].append(row)

    # ---- flushing
    def flush(self) -> None:
        drafts, self.pending = self.pending, []
        by_table: dict[str, list[dict]] = defaultdict(list)
        for d in drafts:
            self.book.supervise(d)
            if d.accepted_at is not None and d.state not in ("transferred", "merged"):
                self.accepted[d.row["officer_id"]].append(
                    (d.accepted_at, d.id, d.row["category_code"]))
            table = {"discipline": "discipline_decision"}.get(d.type, d.type)
            by_table[table].append(d.row)
            by_table["case_event"] += d.events
            by_table["case_clock"] += d.clocks
            by_table["notice"] += d.notices
            by_table["search_outbox"].append({
                "seq": self.next_id("search_outbox"), "case_type": d.type, "case_id": d.id,
                "created_at": d.last_at})
            self.counts[(d.type, d.state)] += 1
        for table, rows in self.extra.items():
            by_table[table] += rows
        self.extra = defaultdict(list)
        order = ["investigation", "investigation_member", "complaint", "complainant_identity",
                 "evidence_entry", "suspension", "discipline_decision", "appeal", "recovery",
                 "recovery_instalment", "recovery_payment", "recusal", "recusal_applicant",
                 "supervision", "officer_flag", "conflict_declaration", "case_event",
                 "case_clock", "notice", "search_outbox"]
        assert set(by_table) <= set(order), set(by_table) - set(order)
        batch = [(table, by_table[table]) for table in order if by_table.get(table)]
        for table, rows in batch:
            self.rows[table] += len(rows)
        counters = {name: self.sequences[name] for name in sorted(self.sequences_touched)}
        self.sequences_touched.clear()
        ids = dict(self.ids)
        self.sink.write(batch, lambda sink: self._advance_counters(sink, counters, ids))

    @staticmethod
    def _advance_counters(sink: Sink, counters: dict[str, int], ids: dict[str, int]) -> None:
        """The yearly number counters and (PostgreSQL) the id sequences, past what the
        batch wrote: numbers and ids the app gives out later never collide with ours."""
        for name, value in counters.items():
            sink.execute("INSERT INTO number_sequence (name, value) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value "
                         "WHERE number_sequence.value < excluded.value", (name, value))
        if sink.dialect == "postgresql":
            for table, value in ids.items():
                column = "seq" if table == "search_outbox" else "id"
                if value:
                    sink.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', "
                                 f"'{column}'), GREATEST(?, (SELECT COALESCE(MAX({column}), 1) "
                                 f"FROM \"{table}\")))", (value,))

    def finish(self) -> None:
        """Officers whose decisions were carried out, and the early-intervention flags."""
        from workflows.clocks import add_months

        updates = [(o["level"], o["employment"], self.now, o["id"])
                   for o in self.officers.values() if o.get("changed")]
        if updates:
            sql = "UPDATE officer SET level = ?, employment = ?, updated_at = ? WHERE id = ?"
            if self.sink.dialect == "sqlite":
                self.sink.dbapi.executemany(sql, [(a, b, _sqlite_dt(c), d)
                                                  for a, b, c, d in updates])
            else:
                cur = self.sink.dbapi.cursor()
                cur.executemany(sql.replace("?", "%s"), updates)
                cur.close()
        # Flags: the default rule (3 accepted complaints in 12 months, or 2 of a category)
        # applied at each acceptance, as intervention.evaluate does.
        forever = dt.datetime.max.replace(tzinfo=UTC)
        for officer_id, accepted in sorted(self.accepted.items()):
            if officer_id is None:
                continue
            accepted.sort()
            open_until = {(k, c): forever for o, k, c in self.open_flags if o == officer_id}
            for i, (at, _cid, category) in enumerate(accepted):
                since = dt.datetime.combine(add_months(at.astimezone(self.tz).date(), -12),
                                            dt.time(), self.tz).astimezone(UTC)
                window = [a for a in accepted[: i + 1] if a[0] >= since]
                raised = []
                if len(window) >= 3 and open_until.get(("count", ""), at) <= at:
                    raised.append(("count", "", window))
                same = [a for a in window if a[2] == category]
                if len(same) >= 2 and open_until.get(("repeat", category), at) <= at:
                    raised.append(("repeat", category, same))
                for kind, code, listed in raised:
                    officer = self.officers[officer_id]
                    flag = {"id": self.next_id("officer_flag"), "officer_id": officer_id,
                            "organ_id": officer["organ_id"], "kind": kind,
                            "category_code": code, "complaint_ids": [a[1] for a in listed],
                            "flagged_at": at, "cleared_at": None, "clear_note": ""}
                    cleared = at + self.rng.uniform(3, 60) * DAY
                    leader = self.staff(self.organ_by_id[officer["organ_id"]], "leader")
                    if cleared < self.now and self.rng.random() < 0.6 and leader:
                        flag.update(cleared_at=cleared, cleared_by_id=leader,
                                    clear_note="已约谈该辅警并调阅相关投诉，加强日常教育管理")
                        open_until[(kind, code)] = cleared
                    else:
                        open_until[(kind, code)] = forever
                    self.add("officer_flag", flag)
        self.flush()

    # ---- the run
    def run(self, progress=None) -> None:
        self.accepted: dict[int, list] = defaultdict(list)
        self.recent_open: dict[int, list] = defaultdict(list)
        self.build_people()
        self.sink.start_writer()
        self.book = stories = StoryBook(self)
        coverage = stories.coverage() if self.focus in self.organs else []
        while self.remaining > 0:
            if coverage:
                case_type, target = coverage.pop(0)
                stories.tell(case_type, target, focus=True)
            else:
                kind, target, t0 = stories.draw()
                stories.tell(kind, target, t0=t0)
            if len(self.pending) >= self.batch:
                self.flush()
                if progress:
                    progress(self.n - self.remaining, self.n)
        self.flush()
        self.sink.stop_writer()
        self.finish()
        if progress:
            progress(self.n - self.remaining, self.n)


# --------------------------------------------------------------------------- entry points

def seed(engine_or_url, n_cases: int, seed: int = DEFAULT_SEED, *,
         now: dt.datetime | None = None, focus: str | None = FOCUS, batch: int = 5000,
         password: str | None = None, analyze: bool = True, progress=None) -> dict:
    """Write ``n_cases`` cases (of all seven types together) into the database at
    ``engine_or_url``, whose schema must exist (``oversight db upgrade``). Returns a
    report: rows per table, cases per type and state, seconds. ``now`` anchors every time
    (default: this hour); ``focus`` is the organ whose staff see every (type, state) pair;
    ``password`` becomes the password of every account created (default: none can log
    in). Safe to run again on the same database: it adds to what is there."""
    from oversight import models

    if isinstance(engine_or_url, str):
        from oversight.config import engine_url

        engine, own = sa.create_engine(engine_url(engine_or_url)), True
    else:
        engine, own = engine_or_url, False
    now = now or dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if password:
        from werkzeug.security import generate_password_hash

        password_hash = generate_password_hash(password)
    else:
        password_hash = "!seeded-account-without-password"
    started = time.perf_counter()
    sink = Sink(engine, models.CaseEvent.metadata)
    try:
        if not sa.inspect(engine).has_table("case_event"):
            raise RuntimeError("no schema: run `oversight db upgrade` first")
        seeder = Seeder(sink, n_cases, seed, now, focus, password_hash, batch)
        seeder.load()
        seeder.run(progress)
        sink.commit()
        # The kept counts of cases (queues, 待我处理) follow the app's writes, not these
        # bulk rows: count them once, as `oversight counts --repair` does.
        from oversight.services import counts

        with engine.begin() as conn:
            counts.repair(conn)
        seconds = time.perf_counter() - started
        if analyze:
            sink.commit()
            if sink.dialect == "sqlite":
                sink.dbapi.execute("ANALYZE")
            else:
                sink.dbapi.autocommit = True
                sink.execute("ANALYZE")
                sink.dbapi.autocommit = False
        sink.commit()
    finally:
        sink.close()
        if own:
            engine.dispose()
    by_type: Counter = Counter()
    for (case_type, _state), count in seeder.counts.items():
        by_type[case_type] += count
    return {
        "cases": n_cases, "seed": seed, "now": now.isoformat(), "dialect": sink.dialect,
        "seconds": round(seconds, 2), "seconds_with_analyze": round(
            time.perf_counter() - started, 2),
        "cases_by_type": dict(sorted(by_type.items())),
        "cases_by_state": {f"{t}:{st}": c for (t, st), c in sorted(seeder.counts.items())},
        "write_seconds": round(sink.seconds, 2),
        "rows": dict(sorted(seeder.rows.items())), "clamped_times": seeder.clamped,
    }


def main(argv: list[str] | None = None) -> dict:
    """The command line: migrate the database at ``--db``, add the demo accounts when it
    is empty, seed, print the logins and the timing, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--db", required=True, help="sqlite:////tmp/x.db or postgresql://...")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--now", help="anchor time, ISO 8601 with offset (default: this hour)")
    parser.add_argument("--batch", type=int, default=5000, help="cases per commit")
    parser.add_argument("--no-demo", action="store_true",
                        help="do not add the demo accounts to an empty database")
    parser.add_argument("--out", help="write the report as JSON here")
    args = parser.parse_args(argv)
    import tempfile

    from flask_migrate import upgrade

    from oversight import create_app
    from oversight.extensions import bind_migrations, db
    from oversight.seed import database_is_empty, seed_demo
    from oversight.services.uow import unit_of_work

    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"SQLALCHEMY_DATABASE_URI": args.db, "INSTANCE_PATH": instance,
                          "SEARCH_INLINE": False})
        bind_migrations(app)
        with app.app_context():
            upgrade()
            logins = {}
            if database_is_empty() and not args.no_demo:
                with unit_of_work():
                    logins = seed_demo()
            db.session.remove()
            t0 = time.perf_counter()

            def progress(done: int, total: int) -> None:
                print(f"\r{done}/{total} cases, {time.perf_counter() - t0:.0f} s",
                      end="", file=sys.stderr, flush=True)

            report = seed(db.engine, args.cases, args.seed, password=password,
                          now=dt.datetime.fromisoformat(args.now) if args.now else None,
                          batch=args.batch, progress=progress)
            db.engine.dispose()
    print(file=sys.stderr)
    for username, secret in logins.items():
        print(f"demo login {username}: {secret}")
    print(f"every seeded account ({report['rows'].get('app_user', 0)}) has the password "
          f"{password}")
    print(f"{report['cases']} cases in {report['seconds']} s "
          f"({report['seconds_with_analyze']} s with ANALYZE); "
          "run `oversight reindex` to build the search index")
    if args.out:
        Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2),
                                  encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
