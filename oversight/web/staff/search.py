"""The staff search page (全文检索): a query box, filters, facet counts and highlighted hits.

The search itself, including the scope filter that keeps out-of-scope cases out of both
the hits and the counts, lives in ``oversight.search``. This page only builds the form
from what the user may choose (their organ subtree, their pack's categories), passes the
choices on, and draws the result.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from oversight import search as search_core
from oversight.services import registry
from oversight.services.access import can
from oversight.web.common import organ_choices
from oversight.web.search_forms import SearchForm
from oversight.web.staff.cases import page_for
from oversight.web.staff.views import bp

PER_PAGE = 20

#: A facet key -> the form field its values filter on.
FACET_FIELDS = {"case_type": "case_type", "state": "state", "organ": "organ_id",
                "category": "category"}


def _state_choices(case_type: str) -> list[SelectChoice]:
    """The states of the chosen type, or of every type (a value shared by two types, such
    as 调查中, is listed once and filters both)."""
    names = [case_type] if case_type in registry.case_types() else registry.case_types()
    seen: dict[str, str] = {}
    for name in names:
        for state in registry.spec_for(name).states:
            seen.setdefault(state.value, state.label)
    return [SelectChoice(value, label) for value, label in seen.items()]


def _fill_choices(form: SearchForm) -> None:
    everything = SelectChoice("", _("全部"))
    form.case_type.choices = [everything] + [
        SelectChoice(name, registry.spec_for(name).label) for name in registry.case_types()]
    form.state.choices = [everything] + _state_choices(form.case_type.data or "")
    form.organ_id.choices = [SelectChoice("", _("本级及下级全部"))] + organ_choices(
        current_user.organ.path)
    form.category.choices = [everything] + [
        SelectChoice(c.code, c.label) for c in current_user.organ.pack.categories]


def hit_url(hit) -> str:
    """The staff case page of a hit (hits carry the type and id, not the case)."""
    return url_for("staff.case", segment=page_for(hit.case_type).segment, case_id=hit.case_id)


def type_label(name: str) -> str:
    return registry.spec_for(name).label if name in registry.case_types() else name


def _facet_links(form: SearchForm, facets: dict) -> list[dict]:
    """Each facet with its values as links that add (or, when chosen, drop) the filter."""
    current = form.filters
    out = []
    for key, values in facets.items():
        field = FACET_FIELDS.get(key)
        if field is None or not values:
            continue
        chosen = current.get(field, "")
        links = []
        for value, label, count in values:
            args = {k: v for k, v in current.items() if k != field}
            if field == "case_type" and str(value) != chosen:
                args.pop("state", None)  # a state of another type would match nothing
            selected = str(value) == chosen
            if not selected:
                args[field] = value
            links.append({"label": label, "count": count, "selected": selected,
                          "url": url_for("staff.search", **args)})
        out.append({"key": key, "field": field, "links": links})
    return out


@bp.get("/search")
def search():
    if not can(current_user, "queue"):
        if can(current_user, "admin"):
            return redirect(url_for("admin.index"))
        if can(current_user, "own_record"):
            return redirect(url_for("staff.me"))
        abort(403)
    form = SearchForm(formdata=request.args or None)
    _fill_choices(form)
    submitted = bool(request.args)
    result = None
    if submitted and form.validate():
        page = max(1, request.args.get("page", 1, type=int) or 1)
        result = search_core.search(
            current_user, form.q.data or "",
            case_type=form.case_type.data or "", state=form.state.data or "",
            organ_id=int(form.organ_id.data) if form.organ_id.data else None,
            date_from=form.date_from.data, date_to=form.date_to.data,
            category=form.category.data or "", sort=form.sort.data or "relevance",
            page=page, per_page=PER_PAGE)
    status = 400 if submitted and form.errors else 200
    return render_template(
        "staff/search.html", form=form, result=result, submitted=submitted,
        filters=form.filters, facets=_facet_links(form, result.facets) if result else [],
        hit_url=hit_url, type_label=type_label), status
