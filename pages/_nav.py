"""The pages that are built, in navigation order. Plain data so tests can import it."""

from __future__ import annotations

from typing import NamedTuple


class PageEntry(NamedTuple):
    """One navigation entry: its file, the i18n key of its title, its icon."""

    file: str
    title_key: str
    icon: str


PAGES: tuple[PageEntry, ...] = (
    PageEntry("pages/home.py", "nav.home", ":material/home:"),
    PageEntry("pages/data.py", "nav.data", ":material/database:"),
    PageEntry("pages/segments.py", "nav.segments", ":material/group_work:"),
    PageEntry("pages/baskets.py", "nav.baskets", ":material/shopping_basket:"),
    PageEntry("pages/churn.py", "nav.churn", ":material/person_remove:"),
    PageEntry("pages/value.py", "nav.value", ":material/savings:"),
    PageEntry("pages/forecast.py", "nav.forecast", ":material/trending_up:"),
    PageEntry("pages/communications.py", "nav.communications", ":material/forum:"),
    PageEntry("pages/customer360.py", "nav.customer360", ":material/person_search:"),
)
