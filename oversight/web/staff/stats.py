"""The staff statistics dashboard (统计): figures for the user's organ subtree, narrowed
by organ and by the Beijing dates the cases were created, drawn as tables with bar charts
(inline SVG made here, no script) and exported table by table as CSV.

The counting, and the scope filter that keeps other organs' cases out of every figure,
live in ``oversight.services.stats``; this page parses the filters and draws.
"""

from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from oversight.models.base import utcnow
from oversight.services import stats as stats_service
from oversight.services.access import can
from oversight.web.common import organ_choices, organ_tree
from oversight.web.search_forms import DayField, _in_choices
from oversight.web.staff.views import bp
from workflows.clocks import to_local


class StatsForm(FlaskForm):
    """The dashboard's filters: a GET form that changes nothing, so it has no CSRF token
    and its URL can be bookmarked."""

    class Meta:
        csrf = False

    organ_id = SelectField(_l("机关"), default="", validate_choice=False,
                           validators=[_in_choices])
    date_from = DayField(_l("立案日期自"), validators=[Optional()])
    date_to = DayField(_l("至"), validators=[Optional()])

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))

    @property
    def filters(self) -> dict[str, str]:
        """The filters as they appear in the URL, for the CSV links."""
        values = {"organ_id": self.organ_id.data or "", "date_from": self.date_from._value(),
                  "date_to": self.date_to._value()}
        return {name: value for name, value in values.items() if value}


def csv_response(table: stats_service.Table, stem: str):
    """A table as a CSV download (UTF-8 with BOM), named ``<stem>-<table>-<date>.csv``."""
    name = f"{stem}-{table.name}-{to_local(utcnow()):%Y%m%d}.csv"
    response = current_app.response_class(table.csv_bytes(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/stats")
def stats():
    if not can(current_user, "stats"):
        abort(403)
    form = StatsForm(formdata=request.args or None)
    organs = organ_tree(within=current_user.organ.path)
    form.organ_id.choices = [SelectChoice("", _("本级及下级全部"))] + organ_choices(
        current_user.organ.path)
    if request.args and not form.validate():
        return render_template("staff/stats.html", form=form, board=None), 400
    chosen = next((o for o, _d in organs if str(o.id) == form.organ_id.data), None)
    # The page and its CSV exports read the same kept figures (see stats_service.recent).
    figures = stats_service.recent_dashboard(
        stats_service.Scope.of_user(current_user, chosen, form.date_from.data,
                                    form.date_to.data),
        utcnow())
    board = figures.value
    if request.args.get("format") == "csv":
        table = board.table(request.args.get("table", ""))
        if table is None:
            abort(404)
        return csv_response(table, "stats")
    csv_urls = {t.name: url_for("staff.stats", format="csv", table=t.name, **form.filters)
                for t in board.tables}
    return render_template("staff/stats.html", form=form, board=board, csv_urls=csv_urls,
                           organ=chosen, computed_at=figures.at,
                           percentile=stats_service.percentile,
                           days_text=stats_service.days_text,
                           rate_text=stats_service.rate_text)
