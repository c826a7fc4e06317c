"""Browser: importing a CSV on the Data page in real Chromium, README screenshot of the import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm_core.store import Workspace
from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

ORDERS_CSV = (
    "Customer ID,Order Date,Product,Qty,Unit Price\n"
    "00123,2024-01-05,Tea,2,3.5\n"
    "00124,2024-01-06,Coffee,-1,4.0\n"
    ",2024-01-07,Milk,1,1.2\n"
    "00125,2024-01-08,Cake,1,2.5\n"
)
GUESSED = [
    ("Customer ID", "customer_id"),
    ("Order Date", "date"),
    ("Product", "item"),
    ("Qty", "quantity"),
    ("Unit Price", "unit_price"),
]


@pytest.fixture()
def orders_file(tmp_path: Path) -> Path:
    path = tmp_path / "web_orders.csv"
    path.write_text(ORDERS_CSV, encoding="utf-8")
    return path


@pytest.fixture()
def data_page(sample_workspace: Path, orders_file: Path) -> Iterator[object]:
    """The app on its Data page, reached from the sidebar, with web_orders.csv uploaded."""
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Data").click()
        page.get_by_role("tab", name="Import").wait_for()
        wait_idle(page)
        page.set_input_files("input[type=file]", str(orders_file))
        page.get_by_text("File 1: web_orders.csv").wait_for()
        page.get_by_text("Problems found").wait_for()
        wait_idle(page)
        yield page


def _grid_cells(page: object) -> list[str]:
    """Texts of the data grids' accessible cells (the grid itself is drawn on a canvas)."""
    return [text.strip() for text in page.locator("[role='gridcell']").all_inner_texts()]


def test_upload_shows_roles_and_problems(data_page: object, sample_workspace: Path) -> None:
    page = data_page
    cells = _grid_cells(page)
    for column, role in GUESSED:
        assert column in cells, column
        assert cells[cells.index(column) + 1] == role, (column, cells)
    assert any("no customer ID" in cell for cell in cells), cells
    assert any("negative" in cell for cell in cells), cells
    body = page.inner_text("body")
    assert "Read 4 rows (0 skipped)" in body
    assert "Drop rows without a customer ID" in body  # a suggested cleaning step
    assert page.get_by_role("button", name="Save dataset").is_visible()
    # The app scrolls inside its main block: a tall window shows the roles and the problems.
    page.set_viewport_size({"width": 1400, "height": 1900})
    page.get_by_text("Problems found").scroll_into_view_if_needed()
    wait_idle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "data_import.png"), full_page=True)
    assert Workspace(sample_workspace).dataset_names() == ["sample"]  # nothing saved yet


def test_save_shows_success_and_lists_the_dataset_in_the_sidebar(
    data_page: object, sample_workspace: Path
) -> None:
    page = data_page
    page.get_by_label("Dataset name").fill("web orders")
    page.get_by_role("button", name="Save dataset").click()
    saved = page.get_by_text("Saved “web orders”")
    saved.or_(page.locator("[data-testid='stException']")).first.wait_for()
    wait_idle(page)
    assert "web orders" in Workspace(sample_workspace).dataset_names()
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("Saved “web orders”").is_visible()
    picker = page.locator("[data-testid='stSidebar']").get_by_role("combobox", name="Dataset")
    assert picker.input_value().startswith("web orders")  # the new dataset is the active one
    picker.click()
    options = page.get_by_role("option").all_inner_texts()
    assert any(o.startswith("web orders") for o in options), options
    assert any(o.startswith("sample") for o in options), options
