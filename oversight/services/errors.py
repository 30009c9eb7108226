"""Errors a service raises; views turn them into messages beside the right field."""

from __future__ import annotations

from flask_babel import gettext as _


class ServiceError(Exception):
    """Base: carries a user-facing message, already translated."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The case does not exist or this actor may not know that it exists."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("未找到该案件"))


class Forbidden(ServiceError):
    def __init__(self, message: str | None = None):
        super().__init__(message or _("您无权执行此操作"))


class IllegalTransition(ServiceError):
    """The action cannot be taken now; nothing was changed."""


class StaleCase(ServiceError):
    def __init__(self, message: str | None = None):
        super().__init__(message or _("案件已被他人更新，请刷新后重试"))


class InvalidData(ServiceError):
    """Field-level validation failures: ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        errors = {name: str(message) for name, message in errors.items()}  # no lazy strings
        # TRANSLATORS: separator between several field errors shown as one message.
        super().__init__(_("；").join(errors.values()))
        self.errors = errors


class Throttled(ServiceError):
    def __init__(self, message: str | None = None):
        super().__init__(message or _("尝试次数过多，请稍后再试"))


class AlreadySubmitted(ServiceError):
    """The same form was submitted before; ``number`` is the case it filed."""

    def __init__(self, number: str):
        super().__init__(_("该表单已经提交过，案件编号 %(number)s。", number=number))
        self.number = number
