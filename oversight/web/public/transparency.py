"""The public transparency page (公开数据): how many complaints each organ received,
concluded and found substantiated per quarter, and how long handling took. Aggregates
only: no names, badges or case numbers, and a count from 1 to 4 shows as "<5" so that a
single complaint cannot be picked out."""

from __future__ import annotations

from flask import render_template, request

from oversight.models.base import utcnow
from oversight.services import stats as stats_service
from oversight.web.public.views import bp
from oversight.web.staff.stats import csv_response


@bp.get("/transparency")
def transparency():
    figures = stats_service.recent_transparency(utcnow())  # kept a short while, as staff's
    rows = figures.value
    if request.args.get("format") == "csv":
        return csv_response(stats_service.transparency_table(rows), "transparency")
    return render_template("public/transparency.html", computed_at=figures.at,
                           quarters=stats_service.group_by_quarter(rows),
                           quarter_label=stats_service.quarter_label,
                           shown_count=stats_service.shown_count,
                           small=stats_service.SMALL_COUNT)
