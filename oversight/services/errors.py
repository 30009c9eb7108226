"""Errors a service raises; views turn them into messages beside the right field."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: carries a user-facing Chinese message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    """The case does not exist or this actor may not know that it exists."""

    def __init__(self, message: str = "未找到该案件"):
        super().__init__(message)


class Forbidden(ServiceError):
    def __init__(self, message: str = "您无权执行此操作"):
        super().__init__(message)


class IllegalTransition(ServiceError):
    """The action cannot be taken now; nothing was changed."""


class StaleCase(ServiceError):
    def __init__(self, message: str = "案件已被他人更新，请刷新后重试"):
        super().__init__(message)


class InvalidData(ServiceError):
    """Field-level validation failures: ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


class Throttled(ServiceError):
    def __init__(self, message: str = "尝试次数过多，请稍后再试"):
        super().__init__(message)
