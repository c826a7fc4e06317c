"""The Data page (Import / Quality / Manage) driven with Streamlit's AppTest.

Every run goes through ``app.py`` with its sidebar (language switch, dataset picker), as in a
running server (see ``_apptest_runs_through_app_py`` in conftest.py). Figures are computed from the
files written here or read from the workspace with the core, never copied from a previous run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from crm_core.i18n import t
from crm_core.store import Workspace
from pages._ui import DATASET_KEY
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/data.py"
CJK = re.compile(r"[\u3400-\u9fff]")

ORDERS_CSV = (
    b"Customer ID,Order Date,Product,Qty,Unit Price\n"
    b"00123,2024-01-05,Tea,2,3.5\n"
    b"00124,2024-01-06,Coffee,-1,4.0\n"
    b",2024-01-07,Milk,1,1.2\n"
    b"00125,2024-01-08,Cake,1,2.5\n"
)
ORDERS_ROLES = {
    "Customer ID": "customer_id",
    "Order Date": "date",
    "Product": "item",
    "Qty": "quantity",
    "Unit Price": "unit_price",
}


def _shown(markdown: str) -> str:
    """Text as the user reads it: Markdown escapes of user values (``web\\_orders``) removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _button(at: AppTest, label: str) -> Button:
    matches = [b for b in at.button if b.label == label]
    assert matches, (label, [b.label for b in at.button])
    return matches[0]


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv"))
    at.run()
    return at


def _problems(at: AppTest, lang: str = "en") -> list[str]:
    header = t("data.problem", lang)
    tables = [d.value for d in at.dataframe if header in d.value.columns]
    assert tables, "no problems table"
    return tables[0][header].tolist()


def _snapshot(directory: Path) -> list[tuple]:
    workspace = Workspace(directory)
    return [(i.name, i.version, i.fingerprint, i.rows) for i in workspace.list_datasets()] + [
        len(workspace.history())
    ]


def _add_shop(directory: Path) -> None:
    """customers 00001, 00002; transactions also by 00003, who has no profile."""
    ids = pd.array(["00001", "00002", "00002", "00003"], dtype="str")
    Workspace(directory).save_dataset(
        "shop",
        {
            "customers": pd.DataFrame(
                {"customer_id": pd.array(["00001", "00002"], dtype="str"), "age": [30.0, 40.0]}
            ),
            "transactions": pd.DataFrame(
                {
                    "customer_id": ids,
                    "date": pd.to_datetime(
                        ["2024-01-05", "2024-01-06", "2024-02-01", "2024-02-03"]
                    ),
                    "amount": [10.5, 20.0, 4.0, 7.25],
                }
            ),
        },
    )


# ------------------------------------------------------------------------------ Quality tab


def test_quality_tab_rows_per_table_and_match_rates_of_the_sample(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    assert not at.exception
    assert at.session_state[DATASET_KEY] == "sample"
    rows = Workspace(sample_workspace).info("sample").rows
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {t(f"schema.table.{name}", "en"): f"{n:,}" for name, n in rows.items()}
    # The sample's customers all have profiles: one all-clear line per table with customer ids.
    messages = [s.value for s in at.success]
    for table in ("transactions", "communications", "feedback", "campaigns"):
        label = t(f"table.{table}", "en")
        assert any(m.startswith(f"0% of {label} ") for m in messages), (table, messages)


def test_quality_tab_warns_about_customers_without_a_profile(sample_workspace: Path) -> None:
    _add_shop(sample_workspace)
    at = run_page(PAGE, "en", **{DATASET_KEY: "shop"})
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        t("schema.table.customers", "en"): "2",
        t("schema.table.transactions", "en"): "4",
    }
    # 1 of 3 buying customers (00003) has no profile; it is 1 transaction row.
    warnings = [w.value for w in at.warning]
    assert any("33%" in w and "(1 rows)" in w for w in warnings), warnings
    unmatched = [d.value for d in at.dataframe if "customer_id" in d.value.columns]
    assert any(frame["customer_id"].tolist() == ["00003"] for frame in unmatched)


# ------------------------------------------------------------------------------ Import tab


def test_upload_shows_guessed_roles_and_problems_and_saves(sample_workspace: Path) -> None:
    at = _upload(run_page(PAGE, "en"), "web_orders.csv", ORDERS_CSV)
    assert not at.exception
    assert any("web_orders.csv" in _shown(s.value) for s in at.subheader)
    # The mapping editor lists every column with its guessed role.
    [editor] = at.data_editor
    roles = dict(zip(editor.value["column"], editor.value["role"], strict=True))
    assert roles == ORDERS_ROLES
    # The problems list names the row without a customer and the return.
    problems = _problems(at)
    assert any("no customer ID" in p for p in problems), problems
    assert any("negative" in p for p in problems), problems
    assert not at.error

    # Tick the suggested step, then save under a new name with the form.
    [step] = [c for c in at.checkbox if c.label == t("schema.step.drop_missing_customer", "en")]
    step.check()
    at.run()
    [name] = [x for x in at.text_input if x.label == t("data.dataset_name", "en")]
    assert name.value == "web_orders"  # proposed from the file name
    name.set_value("web orders")
    _button(at, t("data.save", "en")).click()
    at.run()

    workspace = Workspace(sample_workspace)
    assert set(workspace.dataset_names()) == {"sample", "web orders"}
    stored = workspace.load_dataset("web orders").tables["transactions"]
    assert stored["customer_id"].tolist() == ["00123", "00124", "00125"]  # zeros kept, row dropped
    assert stored["item"].tolist() == ["Tea", "Coffee", "Cake"]
    meta = workspace.table_meta("web orders")["transactions"]
    assert meta["mapping"][0]["columns"] == ORDERS_ROLES
    assert [s["op"] for s in meta["recipe"][0]["steps"]] == ["drop_missing_customer"]


def test_saving_shows_success_and_makes_the_dataset_active(sample_workspace: Path) -> None:
    at = _upload(run_page(PAGE, "en"), "web_orders.csv", ORDERS_CSV)
    _button(at, t("data.save", "en")).click()
    at.run()
    assert "web_orders" in Workspace(sample_workspace).dataset_names()
    assert not at.exception
    assert any("web_orders" in _shown(s.value) for s in at.success)
    assert at.session_state[DATASET_KEY] == "web_orders"
    at.run()
    [picker] = at.sidebar.selectbox
    assert picker.value == "web_orders"
    assert any(option.startswith("web_orders") for option in picker.options), picker.options


def test_name_taken_is_refused_without_touching_the_dataset(sample_workspace: Path) -> None:
    before = _snapshot(sample_workspace)
    at = _upload(run_page(PAGE, "en"), "orders.csv", ORDERS_CSV)
    [name] = [x for x in at.text_input if x.label == t("data.dataset_name", "en")]
    name.set_value("sample")
    _button(at, t("data.save", "en")).click()
    at.run()
    assert not at.exception
    assert any("sample" in e.value for e in at.error)
    assert _snapshot(sample_workspace) == before


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("empty.csv", b"", "is empty"),
        ("random.csv", bytes(range(256)) * 16, "not a text table"),
        ("workbook.xlsx", b"PK\x03\x04" + bytes(300), "Excel workbook"),
        ("header_only.csv", b"customer_id,amount\n", "no data rows"),
    ],
    ids=["empty", "random-bytes", "broken-xlsx", "header-only"],
)
def test_bad_files_show_an_error_and_leave_the_workspace(
    sample_workspace: Path, name: str, data: bytes, says: str
) -> None:
    before = _snapshot(sample_workspace)
    at = _upload(run_page(PAGE, "en"), name, data)
    assert not at.exception
    assert len(at.error) == 1
    assert says in at.error[0].value, at.error[0].value
    assert t("data.save", "en") not in [b.label for b in at.button]  # nothing can be saved
    assert _snapshot(sample_workspace) == before
    # The page keeps working: the Quality tab still shows the active dataset.
    assert at.session_state[DATASET_KEY] == "sample"
    assert len(at.metric) == len(Workspace(sample_workspace).info("sample").rows)


HOSTILE_CELLS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "=1+2")


def test_hostile_file_name_and_cells_are_shown_as_text(
    sample_workspace: Path, tmp_path: Path
) -> None:
    rows = "".join(f"00{i},{cell}\n" for i, cell in enumerate(HOSTILE_CELLS, start=1))
    data = f"customer_id,name\n{rows}".encode()
    files_before = sorted(p for p in tmp_path.rglob("*") if sample_workspace not in p.parents)

    at = _upload(run_page(PAGE, "en"), "../../etc/passwd.csv", data)
    assert not at.exception
    headings = [_shown(s.value) for s in at.subheader]
    assert any(h.endswith("passwd.csv") for h in headings)
    assert not any("../" in h or "etc/" in h for h in headings)
    # Cell values reach the screen only inside tables (shown as text), never as markdown/HTML.
    shown = pd.concat([d.value.astype(str) for d in at.dataframe], ignore_index=True)
    for cell in HOSTILE_CELLS:
        assert shown.apply(lambda col, c=cell: col.str.contains(c, regex=False)).any().any()
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not any("<script>" in text or "onerror" in text for text in texts)
    assert not any(m.proto.allow_html for m in at.markdown)

    _button(at, t("data.save", "en")).click()
    at.run()
    workspace = Workspace(sample_workspace)
    assert "passwd" in workspace.dataset_names()  # the name is data, not a path
    stored = workspace.load_dataset("passwd").tables["customers"]
    assert stored["name"].tolist() == list(HOSTILE_CELLS)
    files_after = sorted(p for p in tmp_path.rglob("*") if sample_workspace not in p.parents)
    assert files_after == files_before  # nothing written next to the workspace
    assert not any("passwd" in p.name for p in sample_workspace.rglob("*"))
    for base in (Path.cwd(), sample_workspace, Path(__file__).resolve().parents[1]):
        assert not (base / "../../etc/passwd.csv").exists()


# ------------------------------------------------------------------------------ Manage tab


def test_rename_and_delete_from_the_manage_tab(sample_workspace: Path) -> None:
    _add_shop(sample_workspace)
    workspace = Workspace(sample_workspace)
    at = run_page(PAGE, "en")
    assert at.session_state[DATASET_KEY] == "sample"

    at.selectbox(key="rename_old").set_value("shop")
    at.text_input(key="rename_new").set_value("shop 2024")
    _button(at, t("data.rename", "en")).click()
    at.run()
    assert not at.exception
    assert any("shop 2024" in _shown(s.value) for s in at.success)
    assert set(workspace.dataset_names()) == {"sample", "shop 2024"}
    assert workspace.info("shop 2024").rows == {"customers": 2, "transactions": 4}

    # Delete needs the confirmation box.
    at.run()
    at.selectbox(key="delete_target").set_value("shop 2024")
    _button(at, t("data.delete", "en")).click()
    at.run()
    assert not at.exception
    assert any(w.value == t("data.delete_needs_confirm", "en") for w in at.warning)
    assert "shop 2024" in workspace.dataset_names()

    at.selectbox(key="delete_target").set_value("shop 2024")
    at.checkbox(key="delete_confirm").check()
    _button(at, t("data.delete", "en")).click()
    at.run()
    assert not at.exception
    assert any("shop 2024" in _shown(s.value) for s in at.success)
    assert workspace.dataset_names() == ["sample"]


def test_rename_to_a_taken_name_is_refused(sample_workspace: Path) -> None:
    _add_shop(sample_workspace)
    before = _snapshot(sample_workspace)
    at = run_page(PAGE, "en")
    at.selectbox(key="rename_old").set_value("shop")
    at.text_input(key="rename_new").set_value("sample")
    _button(at, t("data.rename", "en")).click()
    at.run()
    assert not at.exception
    assert any("sample" in e.value for e in at.error)
    assert _snapshot(sample_workspace) == before


def test_renaming_the_active_dataset_keeps_it_active(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    at.selectbox(key="rename_old").set_value("sample")
    at.text_input(key="rename_new").set_value("demo")
    _button(at, t("data.rename", "en")).click()
    at.run()
    assert Workspace(sample_workspace).dataset_names() == ["demo"]
    assert not at.exception
    assert at.session_state[DATASET_KEY] == "demo"


def test_use_sample_button_next_to_another_dataset(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    workspace.delete_dataset("sample")
    _add_shop(sample_workspace)
    at = run_page(PAGE, "en")
    assert at.session_state[DATASET_KEY] == "shop"
    _button(at, t("data.use_sample", "en")).click()
    at.run()
    assert set(workspace.dataset_names()) == {"sample", "shop"}
    assert not at.exception
    assert at.session_state[DATASET_KEY] == "sample"


# ------------------------------------------------------------------------------ Chinese


def test_chinese_page_has_no_english_left_also_after_an_upload(sample_workspace: Path) -> None:
    at = run_page(PAGE, "zh")
    assert not at.exception
    assert untranslated(at) == []

    text = "客户编号,下单时间,商品名称,数量,单价,金额\n00123,2024-01-05 10:00,苹果,2,3.5,7.00\n"
    text += ",2024-01-06 11:30,牛奶,1,6.0,6.00\n00125,2024-02-01 09:15,面包,-3,4.25,-12.75\n"
    at = _upload(at, "订单.csv", text.encode("gbk"))
    assert not at.exception
    assert untranslated(at) == []
    [editor] = at.data_editor
    roles = dict(zip(editor.value["column"], editor.value["role"], strict=True))
    assert roles == {
        "客户编号": "customer_id",
        "下单时间": "date",
        "商品名称": "item",
        "数量": "quantity",
        "单价": "unit_price",
        "金额": "amount",
    }
    assert "00123" in editor.value["examples"].iloc[0]
    problems = _problems(at, "zh")
    assert problems and all(CJK.search(p) for p in problems)
    assert any("gb" in c.value.lower() for c in at.caption)  # the encoding is reported

    at.checkbox[0].check()
    at.run()
    assert not at.exception
    assert untranslated(at) == []


def test_markdown_in_a_file_name_is_shown_literally(sample_workspace: Path) -> None:
    """SAFETY 42/43: a name carrying Markdown link or math syntax is escaped, not rendered."""
    name = "[click](javascript:alert(1)) $x$ **bold**.csv"
    at = _upload(run_page(PAGE, "en"), name, b"customer_id,age\n001,30\n002,40\n")
    assert not at.exception
    [heading] = [s.value for s in at.subheader if "click" in s.value]
    assert "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in heading
    assert "\\$x\\$" in heading and "\\*\\*bold\\*\\*" in heading


def test_uploaded_files_survive_a_visit_to_another_page(sample_workspace: Path) -> None:
    """SAFETY 34: the upload and its mapping are still there after visiting another page."""
    at = run_page(PAGE, "en")
    at.file_uploader[0].set_value(("web_orders.csv", ORDERS_CSV, "text/csv")).run()
    assert any("web_orders.csv" in _shown(s.value) for s in at.subheader)
    at.switch_page("pages/home.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    assert any("web_orders.csv" in _shown(s.value) for s in at.subheader)
    assert any("web_orders.csv" in _shown(i.value) for i in at.info)


def test_two_sessions_do_not_see_each_others_uploads(sample_workspace: Path) -> None:
    """SAFETY 36: an upload in one browser session never shows in another."""
    first = run_page(PAGE, "en")
    first.file_uploader[0].set_value(("web_orders.csv", ORDERS_CSV, "text/csv")).run()
    assert any("web_orders.csv" in _shown(s.value) for s in first.subheader)
    second = run_page(PAGE, "en")
    assert not second.exception
    assert not any("web_orders.csv" in _shown(s.value) for s in second.subheader)
    assert not any("web_orders.csv" in _shown(i.value) for i in second.info)
