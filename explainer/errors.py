"""Errors a learner can cause, with a message key for the text catalogue."""
from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input, explained in plain words.

    ``key`` names a message in the text catalogue (``errors.toml``, for example
    ``"errors.no_output"``); ``params`` fill its placeholders. ``str(exc)`` is the English text,
    so notebook users get a readable message too.
    """

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        from explainer.i18n import translate

        super().__init__(translate(key, "en", **params))
