"""Workspace: atomic imports, names kept as data, edits that change the fingerprint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core import store as store_module
from crm_core.errors import InputError, NotFoundError, ParameterError
from crm_core.store import Workspace


def _tables(n: int = 3) -> dict[str, pd.DataFrame]:
    ids = pd.array([f"{i:05d}" for i in range(n)], dtype="str")
    customers = pd.DataFrame({"customer_id": ids, "age": [30.0 + i for i in range(n)]})
    transactions = pd.DataFrame(
        {
            "customer_id": ids,
            "order_id": pd.array([f"O{i}" for i in range(n)], dtype="str"),
            "date": pd.date_range("2024-01-01", periods=n, freq="D"),
            "amount": [10.0 * (i + 1) for i in range(n)],
        }
    )
    return {"customers": customers, "transactions": transactions}


def test_round_trip_keeps_types_and_leading_zeros(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables())
    loaded = ws.load_dataset("shop")
    assert loaded.tables["customers"]["customer_id"].tolist() == ["00000", "00001", "00002"]
    assert pd.api.types.is_datetime64_any_dtype(loaded.tables["transactions"]["date"])
    assert ws.info("shop").rows == {"customers": 3, "transactions": 3}


def test_workspace_survives_reopening(tmp_path: Path) -> None:
    Workspace(tmp_path).save_dataset("shop", _tables())
    assert Workspace(tmp_path).dataset_names() == ["shop"]


def test_failed_import_leaves_workspace_exactly_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables(3))
    before = ws.load_dataset("shop")

    def explode(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Workspace, "_fingerprint_in", explode)
    with pytest.raises(RuntimeError):
        ws.save_dataset("shop", _tables(10), replace=True)
    with pytest.raises(RuntimeError):
        ws.save_dataset("other", _tables(5))
    monkeypatch.undo()

    assert ws.dataset_names() == ["shop"]
    after = ws.load_dataset("shop")
    for table, frame in before.tables.items():
        pd.testing.assert_frame_equal(frame, after.tables[table])
    assert after.fingerprint == before.fingerprint


def test_existing_name_is_not_overwritten_by_accident(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables(3))
    with pytest.raises(ParameterError) as caught:
        ws.save_dataset("shop", _tables(5))
    assert caught.value.key == "store.name_taken"
    assert ws.info("shop").rows["customers"] == 3


def test_merge_replaces_one_table_and_keeps_the_others(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables(3))
    feedback = pd.DataFrame({"customer_id": ["00001"], "score": [4.0]})
    info = ws.save_dataset("shop", {"feedback": feedback}, merge=True)
    assert info.rows == {"customers": 3, "transactions": 3, "feedback": 1}
    assert info.version == 2


def test_hostile_names_are_data_not_sql(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    hostile = "x'; DROP TABLE datasets; --"
    ws.save_dataset(hostile, _tables())
    ws.save_dataset("normal", _tables())
    assert set(ws.dataset_names()) == {hostile, "normal"}
    ws.rename_dataset(hostile, 'robert"); DELETE FROM history; --')
    assert len(ws.history()) == 3


def test_rename_and_delete(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("a", _tables())
    ws.save_dataset("b", _tables())
    with pytest.raises(ParameterError):
        ws.rename_dataset("a", "b")
    ws.rename_dataset("a", "c")
    ws.save_analysis("c", "segments", "rfm", pd.DataFrame({"customer_id": ["1"], "segment": ["x"]}))
    ws.delete_dataset("c")
    assert ws.dataset_names() == ["b"]
    with pytest.raises(NotFoundError):
        ws.load_dataset("c")


def test_one_edited_cell_changes_the_fingerprint_of_a_large_table(tmp_path: Path) -> None:
    """SAFETY 33: cache keys are a digest of every value, not a sample."""
    n = 60_000
    tables = _tables(n)
    ws = Workspace(tmp_path)
    first = ws.save_dataset("big", tables).fingerprint
    edited = tables["transactions"].copy()
    edited.loc[n // 2, "amount"] += 0.01
    second = ws.save_dataset("big", {"transactions": edited}, merge=True).fingerprint
    assert first != second


def test_customer_edit_is_validated_and_persisted(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables())
    old = ws.info("shop").fingerprint
    ws.upsert_customer("shop", "00001", {"age": "45"})
    ws.upsert_customer("shop", "00099", {"age": 21})
    customers = Workspace(tmp_path).load_dataset("shop").tables["customers"]
    assert customers.set_index("customer_id").loc["00001", "age"] == 45.0
    assert "00099" in set(customers["customer_id"])
    assert ws.info("shop").fingerprint != old
    with pytest.raises(InputError) as caught:
        ws.upsert_customer("shop", "00001", {"age": "forty"})
    assert caught.value.params["column"] == "age"
    with pytest.raises(ParameterError):
        ws.upsert_customer("shop", "00001", {"no_such_field": "1"})
    with pytest.raises(InputError):
        ws.upsert_customer("shop", "  ", {"age": 3})


def test_saved_mapping_is_offered_again(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.recall_mapping("layout-1") is None
    ws.remember_mapping("layout-1", "transactions", {"columns": {"Kunde": "customer_id"}})
    assert Workspace(tmp_path).recall_mapping("layout-1") == {"columns": {"Kunde": "customer_id"}}


def test_saved_analysis_round_trip(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save_dataset("shop", _tables())
    labels = pd.DataFrame({"customer_id": ["00000", "00001"], "segment": ["Champions", "Lost"]})
    ws.save_analysis("shop", "segments", "RFM 2024", labels, meta={"algorithm": "rfm"})
    ws.save_analysis("shop", "segments", "RFM 2024", labels.iloc[:1], meta={"algorithm": "rfm"})
    [saved] = ws.list_analyses("shop", "segments")
    assert saved.meta == {"algorithm": "rfm"}
    pd.testing.assert_frame_equal(ws.load_analysis("shop", "segments", "RFM 2024"), labels.iloc[:1])


def test_bad_names_and_tables_are_refused(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(ParameterError):
        ws.save_dataset("   ", _tables())
    with pytest.raises(ParameterError):
        ws.save_dataset("x" * (store_module.MAX_NAME_LENGTH + 1), _tables())
    with pytest.raises(ParameterError):
        ws.save_dataset("x", {"orders; drop": _tables()["customers"]})
    with pytest.raises(InputError):
        ws.save_dataset("x", {"customers": _tables()["customers"].iloc[:0]})
    assert ws.dataset_names() == []


def test_one_edited_cell_of_any_type_changes_the_row_hashes() -> None:
    """The fingerprint hashes every cell of every column type, in row order."""
    from crm_core.store import frame_fingerprint, row_hashes

    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["00001", "00002", None], dtype="str"),
            "date": pd.to_datetime(["2024-01-01 00:00", None, "2024-03-01 10:00"]),
            "amount": [1.5, np.nan, -2.0],
            "churn": pd.array([1, None, 0], dtype="Int8"),
            "plan": pd.Categorical(["a", "b", "a"]),
            "vip": [True, False, True],
        }
    )
    hashes = row_hashes(frame)
    assert hashes.dtype == np.uint64 and len(set(hashes.tolist())) == 3
    assert row_hashes(frame.iloc[::-1]).tolist() == hashes[::-1].tolist()
    edits = {
        "customer_id": "00003",
        "date": pd.Timestamp("2024-01-02"),
        "amount": 1.25,
        "churn": 0,
        "plan": "b",
        "vip": False,
    }
    for column, value in edits.items():
        edited = frame.copy()
        edited.loc[0, column] = value
        changed = row_hashes(edited) != hashes
        assert changed.tolist() == [True, False, False], column
        assert frame_fingerprint(edited) != frame_fingerprint(frame)


def test_frames_arrow_cannot_hold_are_still_hashed() -> None:
    frame = pd.DataFrame({"a": pd.Series([1, "x", None], dtype=object), "b": [1.0, 2.0, 3.0]})
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    assert store_module.row_hashes(frame).tolist() == expected.tolist()
    edited = frame.copy()
    edited.loc[1, "a"] = "y"
    assert store_module.row_hashes(edited).tolist() != expected.tolist()
    assert store_module.row_hashes(frame.iloc[:, :0]).tolist() == [0, 0, 0]


def test_categories_are_hashed_by_value_not_code() -> None:
    from crm_core.store import row_hashes

    first = pd.DataFrame({"plan": pd.Categorical(["a", "b"])})
    renamed = pd.DataFrame({"plan": pd.Categorical(["z", "b"], categories=["z", "b"])})
    assert row_hashes(first).tolist()[1] == row_hashes(renamed).tolist()[1]
    assert row_hashes(first).tolist()[0] != row_hashes(renamed).tolist()[0]


def test_saved_info_and_remembered_layouts_come_from_the_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(tmp_path)
    remember = [("layout-1", "transactions", {"table": "transactions"}, {"steps": []})]
    saved = ws.save_dataset("shop", _tables(3), remember=remember)
    assert saved == ws.info("shop")
    assert ws.recall_mapping("layout-1") == {"table": "transactions"}
    merged = ws.save_dataset("shop", {"customers": _tables(5)["customers"]}, merge=True)
    assert merged == ws.info("shop") and merged.rows == {"customers": 5, "transactions": 3}
    assert ws.save_dataset("shop", _tables(4), replace=True) == ws.info("shop")

    def explode(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Workspace, "_fingerprint_in", explode)
    with pytest.raises(RuntimeError):
        ws.save_dataset("other", _tables(2), remember=[("layout-2", "transactions", {}, None)])
    monkeypatch.undo()
    assert ws.recall_mapping("layout-2") is None  # rolled back with the import


def test_tables_stored_through_arrow_equal_tables_stored_from_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames are handed to DuckDB as Arrow tables; what is stored must not change."""
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["00001", None, "00003"], dtype="str"),
            "note": pd.Series(["a", None, "c"], dtype=object),
            "date": pd.to_datetime(
                ["2024-01-01 10:00:00.123456789", None, "2024-02-01 00:00:00.0"]
            ),
            "day": pd.to_datetime(["2024-01-01", None, "2024-02-01"]).astype("datetime64[us]"),
            "amount": [1.5, np.nan, np.inf],
            "churn": pd.array([1, None, 0], dtype="Int8"),
            "vip": [True, False, True],
            "visits": [1, 2, 3],
        }
    )
    with_plan = frame.assign(plan=pd.Categorical(["x", "y", "x"]))  # stays on the pandas route
    mixed = frame.assign(note=pd.Series([1, "b", None], dtype=object))  # Arrow refuses it
    assert store_module._arrow_view(frame) is not None
    assert store_module._arrow_view(with_plan) is None and store_module._arrow_view(mixed) is None
    stored = {}
    for route in ("arrow", "pandas"):
        if route == "pandas":
            monkeypatch.setattr(store_module, "_arrow_view", lambda _frame: None)
        ws = Workspace(tmp_path / route)
        for name, table in (("plain", frame), ("plan", with_plan), ("mixed", mixed)):
            ws.save_dataset(name, {"customers": table})
        with ws._connect() as con:
            types = con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_name LIKE 't_%' ORDER BY ALL"
            ).fetchall()
        stored[route] = (
            types,
            {n: ws.load_dataset(n).tables["customers"] for n in ("plain", "plan", "mixed")},
        )
    assert stored["arrow"][0] == stored["pandas"][0]
    for name, loaded in stored["arrow"][1].items():
        pd.testing.assert_frame_equal(loaded, stored["pandas"][1][name])
