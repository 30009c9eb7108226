"""WTForms for a staff member's own account (password, second factor) and the admin's
security settings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

MIN_PASSWORD = 10


class CodeForm(FlaskForm):
    """A six-digit code from the authenticator app."""

    code = StringField(_l("验证码"), validators=[
        DataRequired(message=_l("请填写验证器应用中显示的 6 位数字")),
        Regexp(r"^\s*\d{3}\s*\d{3}\s*$", message=_l("验证码是 6 位数字"))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7})


class RemoveFactorForm(CodeForm):
    password = PasswordField(_l("当前密码"),
                             validators=[DataRequired(message=_l("请填写当前密码"))])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("当前密码"),
                            validators=[DataRequired(message=_l("请填写当前密码"))])
    new = PasswordField(_l("新密码"), validators=[
        DataRequired(message=_l("请填写新密码")),
        Length(min=MIN_PASSWORD, max=200,
               message=_l("新密码至少 %(n)s 个字符", n=MIN_PASSWORD))],
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("再次输入新密码"), validators=[
        DataRequired(message=_l("请再次输入新密码")),
        EqualTo("new", message=_l("两次输入的新密码不一致"))],
        render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, username: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._username = username

    def validate_new(self, field):
        if field.data and self._username and self._username.lower() in field.data.lower():
            raise ValidationError(_l("新密码不能包含用户名"))
        if field.data and field.data == self.current.data:
            raise ValidationError(_l("新密码不能与当前密码相同"))


class FactorPolicyForm(FlaskForm):
    roles = SelectMultipleField(_l("必须启用两步验证的角色"), choices=[], coerce=str,
                                widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())


class ResetFactorForm(FlaskForm):
    reason = TextAreaField(_l("重置原因"), validators=[
        DataRequired(message=_l("请写明重置原因，例如手机遗失")), Length(max=500)])
