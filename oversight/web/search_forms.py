"""The staff search form (全文检索). It is a GET form: a search changes nothing, and its URL
can be bookmarked or shared, so it carries no CSRF token. The choices depend on the user
(their organ subtree, their pack's categories) and are filled by the view."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError


class DayField(DateField):
    """A calendar day (``<input type="date">``). Anything else gets a message in the UI
    language beside the field, and what was typed stays in the box."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, format=["%Y-%m-%d", "%Y/%m/%d"], **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("请按“年-月-日”填写日期，例如 2026-11-20")) from None


def _in_choices(form, field) -> None:
    """Choices are the user's own (their subtree, their pack): a value from elsewhere, for
    example an edited URL, is refused beside the field instead of being searched."""
    if field.data not in {choice.value for choice in field.choices}:
        raise ValidationError(_l("请从列表中选择"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("关键词"), render_kw={
        "placeholder": _l("事情经过中的词句、辅警编号、地点……"),
        "autocomplete": "off", "enterkeyhint": "search"})
    case_type = SelectField(_l("类型"), default="", validate_choice=False,
                            validators=[_in_choices])
    state = SelectField(_l("状态"), default="", validate_choice=False)
    organ_id = SelectField(_l("机关"), default="", validate_choice=False,
                           validators=[_in_choices])
    category = SelectField(_l("问题类别"), default="", validate_choice=False,
                           validators=[_in_choices])
    date_from = DayField(_l("提交日期自"), validators=[Optional()])
    date_to = DayField(_l("至"), validators=[Optional()])
    sort = SelectField(_l("排序"), validate_choice=False, validators=[_in_choices],
                       default="relevance",
                       choices=[SelectChoice("relevance", _l("按相关度")),
                                SelectChoice("date", _l("按提交时间（新的在前）"))])

    def validate_state(self, field) -> None:
        # The states offered are the chosen type's: a state kept from another type (the
        # user changed the type but not the state) would match nothing.
        if field.data not in {choice.value for choice in field.choices}:
            raise ValidationError(_l("所选类型没有这个状态，请重新选择") if self.case_type.data
                                  else _l("请从列表中选择"))

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于开始日期"))

    @property
    def filters(self) -> dict[str, str]:
        """The filters as they appear in the URL, for pagination and facet links."""
        values = {name: getattr(self, name).data or "" for name in
                  ("case_type", "state", "organ_id", "category", "sort")}
        values.update({name: getattr(self, name)._value() for name in
                       ("q", "date_from", "date_to")})
        if values["sort"] == "relevance":
            del values["sort"]  # the default stays out of the URL
        return {name: value for name, value in values.items() if value}
