"""Errors a learner can cause, with a message key for the text catalogue."""
from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, explained in plain words.

    ``key`` names a message in the text catalogue (``errors.toml``, for example
    ``"errors.no_output"``); ``params`` fill its placeholders. A ``param`` placeholder names the setting
    at fault by its catalogue word (``param="learning_rate"`` → ``errors.param.learning_rate``, "learning
    rate" / "学习率"), so no English fragment reaches a translated message. ``str(exc)`` is the English
    text, so notebook users get a readable message too.
    """

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(message(key, params, "en"))


def message(key: str, params: dict, lang: str) -> str:
    """The text of the error ``key`` with ``params`` in ``lang`` (the setting's name translated too)."""
    from explainer.i18n import translate

    if "param" in params:
        params = {**params, "param": translate(f"errors.param.{params['param']}", lang)}
    return translate(key, lang, **params)


def shape_text(shape) -> str:
    """An array's shape for a message, in no language: ``(3, 4)`` → ``"3×4"``, ``(5,)`` → ``"5"``,
    a single number's ``()`` → ``"()"``."""
    return "×".join(str(int(n)) for n in shape) or "()"
