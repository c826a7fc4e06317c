"""Typed, user-facing errors.

Every error carries an i18n key (what went wrong) and a hint key (what to do), so the app and the
CLI can show one clear, translated sentence instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class CrmError(Exception):
    """Base class for errors a user can act on."""

    default_hint = "hint.generic"

    def __init__(self, key: str, hint: str | None = None, **params: Any) -> None:
        self.key = key
        self.hint = hint or self.default_hint
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en", escape: Callable[[str], str] | None = None) -> str:
        """The translated problem and hint as one line; ``escape`` neutralises text parameters
        (file names, values) for an output that would otherwise interpret them as markup."""
        from crm_core.i18n import t

        params = self.params
        if escape is not None:
            params = {k: escape(v) if isinstance(v, str) else v for k, v in params.items()}
        problem = t(self.key, lang, **params)
        hint = t(self.hint, lang, **params)
        return f"{problem} {hint}".strip()


class InputError(CrmError):
    """The file or table the user gave cannot be read or used as it is."""

    default_hint = "hint.check_file"


class ParameterError(CrmError):
    """A parameter value does not fit the data or the method."""

    default_hint = "hint.change_parameters"


class DataRequirementError(CrmError):
    """The dataset lacks what this analysis needs (a role, enough rows, both classes)."""

    default_hint = "hint.map_roles"


class NotFoundError(CrmError):
    """A dataset, customer or saved object does not exist."""

    default_hint = "hint.list_datasets"


class WorkspaceError(CrmError):
    """The workspace could not complete an operation; nothing was changed."""

    default_hint = "hint.retry"
