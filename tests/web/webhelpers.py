"""Small HTML helpers for the web-layer tests (no third-party parser needed).

``element(html, id)`` returns an element's outer HTML; ``field_box(html, id)`` returns the
``<div class="field">`` that holds the form control with that id, which is where the form
macro puts the field's errors. Both can be limited to the subtree of another element.
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

from flask.testing import FlaskClient

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}

CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"|value="([^"]+)"[^>]*?'
                     r'name="csrf_token"')


class Node:
    def __init__(self, tag: str, attrs: dict, start: int, parent: Node | None):
        self.tag = tag
        self.attrs = attrs
        self.start = start
        self.end = start
        self.parent = parent
        self.children: list[Node] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class _Tree(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.text = text
        self._line_starts = [0]
        for m in re.finditer("\n", text):
            self._line_starts.append(m.end())
        self.root = Node("#root", {}, 0, None)
        self.root.end = len(text)
        self._stack = [self.root]
        self.feed(text)
        self.close()
        for node in self._stack[1:]:  # unclosed elements run to the end
            node.end = len(text)

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def _tag_end(self, start: int) -> int:
        return self.text.index(">", start) + 1

    def handle_starttag(self, tag, attrs):
        start = self._offset()
        node = Node(tag, {k: (v or "") for k, v in attrs}, start, self._stack[-1])
        self._stack[-1].children.append(node)
        if tag in VOID:
            node.end = self._tag_end(start)
        else:
            self._stack.append(node)

    def handle_startendtag(self, tag, attrs):
        start = self._offset()
        node = Node(tag, {k: (v or "") for k, v in attrs}, start, self._stack[-1])
        node.end = self._tag_end(start)
        self._stack[-1].children.append(node)

    def handle_endtag(self, tag):
        end = self._tag_end(self._offset())
        for i in range(len(self._stack) - 1, 0, -1):
            if self._stack[i].tag == tag:
                for node in self._stack[i:]:
                    node.end = end
                del self._stack[i:]
                return


def _tree(text: str) -> _Tree:
    return _Tree(text)


def _find(tree: _Tree, element_id: str, within: str | None = None,
          accept=lambda node: True) -> Node | None:
    """The first element with ``id`` (inside ``within``) that ``accept`` likes. Pages may
    (wrongly) repeat an id, so callers say which kind of element they mean."""
    scope = tree.root
    if within is not None:
        scope = next((n for n in tree.root.walk() if n.attrs.get("id") == within), None)
        if scope is None:
            return None
    return next((n for n in scope.walk()
                 if n.attrs.get("id") == element_id and accept(n)), None)


def _find_control(tree: _Tree, name: str, within: str | None = None,
                  accept=lambda node: True) -> Node | None:
    """A form control by id, else by its ``name`` (ids may carry a per-form prefix)."""
    by_id = _find(tree, name, within, accept)
    if by_id is not None:
        return by_id
    scope = _find(tree, within) if within else tree.root
    if scope is None:
        return None
    return next((n for n in scope.walk() if n.tag in CONTROLS
                 and n.attrs.get("name") == name and accept(n)), None)


def _field_div(node: Node | None) -> Node | None:
    while node is not None and not (node.tag == "div" and "field" in node.classes):
        node = node.parent
    return node


CONTROLS = {"input", "textarea", "select"}


def element(text: str, element_id: str, within: str | None = None) -> str | None:
    """Outer HTML of the first element with ``id`` (inside ``within`` when given)."""
    tree = _tree(text)
    node = _find(tree, element_id, within)
    return None if node is None else text[node.start:node.end]


def field_box(text: str, field_id: str, within: str | None = None) -> str:
    """Outer HTML of the ``div.field`` holding the control ``field_id`` (its id or name)."""
    tree = _tree(text)
    node = _find_control(tree, field_id, within, accept=lambda n: _field_div(n) is not None)
    assert node is not None, f"no control {field_id!r} inside a div.field"
    box = _field_div(node)
    return text[box.start:box.end]


def ids(text: str) -> list[str]:
    return [n.attrs["id"] for n in _tree(text).root.walk() if "id" in n.attrs]


def action_ids(text: str) -> set[str]:
    """Triggers offered on a staff case page (``id="action-<trigger>"``)."""
    return {i[len("action-"):] for i in ids(text) if i.startswith("action-")}


def field_errors(box: str) -> list[str]:
    return [htmllib.unescape(m) for m in re.findall(r'<p class="error"[^>]*>([^<]*)</p>', box)]


def csrf_token(text: str) -> str:
    m = CSRF_RE.search(text)
    assert m, "no csrf_token in page"
    return m.group(1) or m.group(2)


def strip_csrf(text: str) -> str:
    return re.sub(r'(name="csrf_token"[^>]*?value=")[^"]*(")', r"\1\2", text)


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, entities decoded)."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", fragment))


def value_of(text: str, control_id: str) -> str | None:
    """The value an input/textarea/select (by id or name) currently shows."""
    tree = _tree(text)
    node = _find_control(tree, control_id, accept=lambda n: n.tag in CONTROLS)
    if node is None:
        return None
    if node.tag == "textarea":
        inner = text[text.index(">", node.start) + 1:text.rindex("</", node.start, node.end)]
        inner = htmllib.unescape(inner)
        # HTML drops one newline right after <textarea>; WTForms writes "\r\n" there.
        for lead in ("\r\n", "\n"):
            if inner.startswith(lead):
                return inner[len(lead):]
        return inner
    if node.tag == "select":
        for opt in node.walk():
            if opt.tag == "option" and "selected" in opt.attrs:
                return opt.attrs.get("value", "")
        return None
    return node.attrs.get("value")


# --------------------------------------------------------------------------- requests


class FreshContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The root ``app`` fixture keeps an app context pushed for the whole test; Flask reuses
    it for requests, so without this ``g`` (where Flask-Login caches the current user) and
    the database session would leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolate_requests(app) -> None:
    app.test_client_class = FreshContextClient


# --------------------------------------------------------------------------- case driving


def refreshed(obj):
    """End the test's transaction (so it sees what requests committed) and reload ``obj``."""
    from oversight.extensions import db

    db.session.rollback()
    db.session.refresh(obj)
    return obj


def fire_as(case, trigger: str, username: str, data: dict | None = None, **kwargs):
    from helpers import user

    from oversight.services import workflow
    from oversight.services.uow import unit_of_work

    refreshed(case)
    with unit_of_work():
        return workflow.fire(case, trigger, user(username), data or {}, **kwargs)


TO_NOTIFIED = (
    ("accept", "intake", {}),
    ("propose_conclusion", "inspector", {"finding": "partly", "facts": "经查，辅警言语失当属实。",
                                         "handling": "对该辅警批评教育"}),
    ("approve_conclusion", "leader", {}),
    ("issue_notice", "intake", {}),
)


def drive_to_notified(case, **kwargs):
    for trigger, who, data in TO_NOTIFIED:
        fire_as(case, trigger, who, data, **kwargs)
    return refreshed(case)


def flashes(text: str) -> list[str]:
    return [htmllib.unescape(m) for m in
            re.findall(r'<div class="flash [^"]*" role="status">([^<]*)</div>', text)]


def pager_links(text: str) -> dict[str, str]:
    """The staff pager's links, ``{"prev"|"next": url}`` (``templates/staff/_pager.html``)."""
    pager = element(text, "pager") or ""
    return {rel: href.replace("&amp;", "&") for href, rel in
            re.findall(r'<a href="([^"]+)" rel="(prev|next)">', pager)}
