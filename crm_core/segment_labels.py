"""Customer → segment name, from a saved segmentation or from RFM, for analyses that group by it.

Forecasts, satisfaction drivers and other pages break results down "by segment"; they all take
the labels from here so the same customer lands in the same group everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from crm_core.errors import DataRequirementError

if TYPE_CHECKING:
    from crm_core.store import Workspace
    from crm_core.tables import Dataset

RFM_CHOICE = "__rfm__"


def saved_segmentations(workspace: Workspace | None, dataset: Dataset) -> list[str]:
    """Names of the segmentations saved for this dataset, newest first (none outside one)."""
    if workspace is None or not workspace.exists(dataset.name):
        return []
    return [a.name for a in workspace.list_analyses(dataset.name, "segments")]


def segment_choices(workspace: Workspace | None, dataset: Dataset) -> list[str]:
    """What a user can group by: RFM segments (when there are transactions), then saved ones."""
    choices = saved_segmentations(workspace, dataset)
    if dataset.has("transactions", "customer_id", "date"):
        choices = [RFM_CHOICE, *choices]
    return choices


def segment_labels(
    dataset: Dataset,
    choice: str | None = None,
    workspace: Workspace | None = None,
    lang: str = "en",
) -> pd.Series:
    """Segment name per customer id (index ``customer_id``, name ``segment``).

    ``choice`` is a saved segmentation's name or :data:`RFM_CHOICE`; None takes the newest saved
    segmentation, else RFM. Raises a typed error when neither exists.
    """
    if choice is None:
        saved = saved_segmentations(workspace, dataset)
        choice = saved[0] if saved else RFM_CHOICE
    if choice == RFM_CHOICE:
        if not dataset.has("transactions", "customer_id", "date"):
            raise DataRequirementError("seglabels.error.none")
        from crm_core.segmentation import RfmParams, run_rfm

        rfm = run_rfm(dataset.tables["transactions"], RfmParams())
        labels = rfm.segment_names(lang)
    else:
        if workspace is None:
            raise DataRequirementError("seglabels.error.none")
        frame = workspace.load_analysis(dataset.name, "segments", choice)
        column = "segment_name" if "segment_name" in frame.columns else "segment"
        labels = frame.set_index("customer_id")[column]
    labels = labels.astype(str)
    labels.index = labels.index.astype(str)
    labels.index.name = "customer_id"
    return labels.rename("segment")
