"""WTForms for recusal applications (回避申请): the public form, intake's record of an oral
application, the officer's self-recusal and the leader's order. Choices that depend on the
policy pack (who may apply, the listed grounds) are filled by the views; their values are
``pack_id:code`` and the service checks them against the deciding organ's pack."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from oversight.web.forms import BADGE, PHONE, _optional_int


class MatterForm(FlaskForm):
    """What every route says about the matter and the ground."""

    matter_ref = StringField(_l("相关案（事）件编号"), validators=[
        DataRequired(message=_l("请填写相关案（事）件的编号")), Length(max=60)])
    matter_summary = TextAreaField(_l("案（事）件简况"), validators=[Optional(), Length(max=500)])
    # The choices are checked by the service against the deciding organ's pack, with a
    # message beside the field, so WTForms' own choice check is off.
    ground_code = SelectField(_l("回避情形"), validate_choice=False, validators=[Optional()])
    ground_text = TextAreaField(_l("可能影响公正履职的情形"),
                                validators=[Optional(), Length(max=2000)])
    facts = TextAreaField(_l("事实和理由"), validators=[
        DataRequired(message=_l("请写明申请回避的事实和理由")), Length(max=5000)])


class RecusalForm(MatterForm):
    """The public application; intake records an oral one on the same fields."""

    organ_id = SelectField(_l("辅警所在单位"), coerce=_optional_int, validate_choice=False,
                           validators=[InputRequired(message=_l("请选择辅警所在单位"))])
    officer_badge = StringField(_l("辅警编号（如知道）"), validators=[
        Optional(), Length(max=20), BADGE])
    officer_description = TextAreaField(_l("辅警外貌特征或其他可识别信息"),
                                        validators=[Optional(), Length(max=500)])
    applicant_role = SelectField(_l("申请人身份"), validate_choice=False, validators=[
        DataRequired(message=_l("请选择申请人身份"))])
    name = StringField(_l("申请人姓名"), validators=[
        DataRequired(message=_l("请填写申请人姓名")), Length(max=60)])
    phone = StringField(_l("联系电话"), validators=[Optional(), PHONE])
    email = StringField(_l("电子邮箱（用于接收决定书）"), validators=[
        Optional(), Email(message=_l("电子邮箱格式不正确")), Length(max=254)])
    files = MultipleFileField(_l("证据材料（最多 5 个：图片、PDF 或视频）"))
    submission_key = HiddenField()


class SelfRecusalForm(MatterForm):
    """The officer asks to step aside from a matter (自行回避)."""


EARLIER_ACTS_CHOICES = [
    SelectChoice("stand", _l("继续有效")),
    SelectChoice("redo", _l("不再有效，由其他人员重新作出")),
]


class OrderRecusalForm(MatterForm):
    """A leader orders an officer to step aside (指令回避)."""

    officer_badge = StringField(_l("辅警编号"), validators=[
        DataRequired(message=_l("请填写辅警编号")), Length(max=20), BADGE])
    earlier_acts = RadioField(_l("回避前已作出的行为"), choices=EARLIER_ACTS_CHOICES,
                              validators=[InputRequired(
                                  message=_l("请认定回避前已作出的行为是否有效"))])
    reason = TextAreaField(_l("决定理由"), validators=[
        DataRequired(message=_l("请写明指令回避的理由")), Length(max=2000)])
