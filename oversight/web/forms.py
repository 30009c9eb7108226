"""WTForms shared by the blueprints. Labels and messages go through gettext."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)


def _optional_int(value):
    if value in ("", None):
        return None
    return int(value)


class LongSelectField(SelectField):
    """A select of many options (a province's organs, every pack's categories) whose
    check of the sent value compares it with each choice's value directly. WTForms builds
    an option object for every choice to find the selected one: for 230 organs and 65
    categories that was a twentieth of a complaint submission. Same rule: the sent value,
    coerced, must equal one choice's coerced value."""

    def pre_validate(self, form):
        if self.process_errors or not self.validate_choice:
            return
        if self.choices is None:
            raise TypeError(self.gettext("Choices cannot be None."))
        coerce, data = self.coerce, self.data
        if not any(coerce(c.value) == data for c in self._choices_from_input(self.choices)):
            raise ValidationError(self.invalid_choice_message
                                  or self.gettext("Not a valid choice."))


BADGE = Regexp(r"^[A-Za-z0-9-]+$", message=_l("编号只能包含字母和数字"))
PHONE = Regexp(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$", message=_l("请填写正确的手机号或固定电话"))


class ComplaintForm(FlaskForm):
    kind = RadioField(
        _l("类型"),
        choices=[SelectChoice("complaint", _l("投诉")), SelectChoice("report", _l("检举")),
                 SelectChoice("accusation", _l("控告"))],
        default="complaint", validators=[InputRequired(message=_l("请选择类型"))])
    anonymous = BooleanField(_l("匿名提交（不留姓名）"))
    name = StringField(_l("姓名"), validators=[Optional(), Length(max=60)])
    phone = StringField(_l("联系电话"), validators=[Optional(), PHONE])
    email = StringField(_l("电子邮箱（用于接收告知书）"),
                        validators=[Optional(), Email(message=_l("电子邮箱格式不正确")),
                                    Length(max=254)])
    organ_id = LongSelectField(_l("辅警所在单位（受理机关）"), coerce=_optional_int,
                               invalid_choice_message=_l("请从列表中选择受理机关"),
                               validators=[InputRequired(message=_l("请选择受理机关"))])
    officer_badge = StringField(_l("辅警编号（如知道）"), validators=[
        Optional(), Length(max=20), BADGE])
    officer_description = TextAreaField(_l("辅警外貌特征或其他可识别信息"),
                                        validators=[Optional(), Length(max=500)])
    incident_at = DateTimeLocalField(_l("发生时间"), format="%Y-%m-%dT%H:%M",
                                     validators=[Optional()])
    incident_place = StringField(_l("发生地点"), validators=[
        DataRequired(message=_l("请填写发生地点")), Length(max=200)])
    category_code = LongSelectField(_l("问题类别"),
                                    invalid_choice_message=_l("请从列表中选择问题类别"),
                                    validators=[
        DataRequired(message=_l("请选择问题类别"))])
    narrative = TextAreaField(_l("事情经过"), validators=[
        DataRequired(message=_l("请描述事情经过")),
        Length(min=20, max=5000, message=_l("事情经过请写 20 到 5000 字"))])
    files = MultipleFileField(_l("证据材料（最多 5 个：图片、PDF 或视频）"))
    submission_key = HiddenField()


class TrackForm(FlaskForm):
    number = StringField(_l("案件编号"), validators=[DataRequired(message=_l("请填写案件编号")),
                                                    Length(max=20)])
    code = StringField(_l("查询码"), validators=[DataRequired(message=_l("请填写查询码")),
                                                 Length(max=40)])


class MaterialForm(FlaskForm):
    material = TextAreaField(_l("补充说明"), validators=[Optional(), Length(max=5000)])
    files = MultipleFileField(_l("补充文件"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("理由"), validators=[Optional(), Length(max=2000)])


class RateForm(FlaskForm):
    rating = RadioField(_l("满意度"), choices=[
        SelectChoice("5", _l("非常满意")), SelectChoice("4", _l("满意")),
        SelectChoice("3", _l("一般")), SelectChoice("2", _l("不满意")),
        SelectChoice("1", _l("非常不满意"))],
                        validators=[InputRequired(message=_l("请选择满意度"))])
    comment = TextAreaField(_l("意见建议"), validators=[Optional(), Length(max=500)])


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请填写用户名"))])
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请填写密码"))])
    next = HiddenField()


class ActionForm(FlaskForm):
    """One form for every staff transition; fields a trigger does not need stay hidden."""

    version = HiddenField()
    reason = TextAreaField(_l("理由 / 说明"), validators=[Optional(), Length(max=2000)])
    target_organ_id = SelectField(_l("转办机关"), coerce=str, choices=[],
                                  validators=[Optional()])
    target_number = StringField(_l("合并到案件编号"), validators=[Optional(), Length(max=20)])
    note = TextAreaField(_l("调查记录"), validators=[Optional(), Length(max=5000)])
    finding = SelectField(_l("调查结论"), choices=[], validators=[Optional()])
    facts = TextAreaField(_l("查明的事实"), validators=[Optional(), Length(max=5000)])
    handling = TextAreaField(_l("处理情况"), validators=[Optional(), Length(max=2000)])
    files = MultipleFileField(_l("附件"))
    # Complaints: join an existing investigation instead of opening a new one.
    investigation_number = StringField(_l("并入调查编号（可不填）"),
                                       validators=[Optional(), Length(max=20)])
    # Recusal decisions: do the officer's acts before stepping aside stand?
    earlier_acts = RadioField(_l("回避前已作出的行为"), choices=[
        SelectChoice("stand", _l("继续有效")),
        SelectChoice("redo", _l("不再有效，由其他人员重新作出"))],
                              validators=[Optional()])
    # Investigations: the team, the evidence log, findings and clarification.
    lead_id = SelectField(_l("主办督察"), coerce=str, choices=[], validators=[Optional()])
    assistant_ids = SelectMultipleField(_l("协办人员"), coerce=str, choices=[],
                                        validators=[Optional()])
    evidence_kind = SelectField(_l("证据类型"), coerce=str, choices=[],
                                validators=[Optional()])
    evidence_title = StringField(_l("证据名称"), validators=[Optional(), Length(max=200)])
    evidence_description = TextAreaField(_l("证明内容"),
                                         validators=[Optional(), Length(max=5000)])
    recorder_ref = StringField(_l("执法记录仪编号及时段"),
                               validators=[Optional(), Length(max=200)])
    evidence_id = SelectField(_l("被替代的证据"), coerce=str, choices=[],
                              validators=[Optional()])
    complaint_finding = SelectField(_l("对投诉反映问题的认定"), coerce=str, choices=[],
                                    validators=[Optional()])
    category_codes = SelectMultipleField(_l("违规行为类别"), coerce=str, choices=[],
                                         validators=[Optional()])
    clarification = TextAreaField(_l("澄清情况"), validators=[Optional(), Length(max=5000)])
    # Complaints: an approved extension of the time to conclude (第三十四条).
    extension_days = StringField(_l("延长天数"), render_kw={"inputmode": "numeric"},
                                 validators=[Optional(), Length(max=3)])
    # Disciplinary decisions and appeals: the measure, the officer's statement, execution.
    measure_code = SelectField(_l("处理措施"), coerce=str, choices=[], validators=[Optional()])
    dismissal_ground = SelectField(_l("解除劳动合同的情形"), coerce=str, choices=[],
                                   validators=[Optional()])
    statement = TextAreaField(_l("陈述申辩"), validators=[Optional(), Length(max=5000)])
    new_facts = TextAreaField(_l("新的事实"), validators=[Optional(), Length(max=5000)])
    union_notified_on = StringField(_l("事先通知工会的日期"), render_kw={"type": "date"},
                                    validators=[Optional(), Length(max=10)])
    supervisor_name = StringField(_l("带领民警（姓名、警号）"),
                                  validators=[Optional(), Length(max=100)])
    referred_to = StringField(_l("移送机关或部门"), validators=[Optional(), Length(max=200)])
    reviewer_id = SelectField(_l("复查人"), coerce=str, choices=[], validators=[Optional()])
    # Compensation recovery: amounts are typed in yuan and kept in integer fen.
    fault = SelectField(_l("过错程度"), coerce=str, choices=[], validators=[Optional()])
    amount = StringField(_l("金额（元）"), render_kw={"inputmode": "decimal"},
                         validators=[Optional(), Length(max=20)])
    waiver_basis = TextAreaField(_l("免予追偿的依据（条款及理由）"),
                                 validators=[Optional(), Length(max=2000)])
    instalments = StringField(_l("分期数"), render_kw={"inputmode": "numeric"},
                              validators=[Optional(), Length(max=3)])
    first_due_on = StringField(_l("首期还款日"), render_kw={"type": "date"},
                               validators=[Optional(), Length(max=10)])
    interval_months = StringField(_l("每期间隔（月）"), render_kw={"inputmode": "numeric"},
                                  validators=[Optional(), Length(max=2)])
    paid_on = StringField(_l("还款日期"), render_kw={"type": "date"},
                          validators=[Optional(), Length(max=10)])
