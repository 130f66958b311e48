"""Suppliers and their catalogs, and the catalog CSV upload (all rows or, listing every
problem by line and column, none)."""

from __future__ import annotations

from flask import Blueprint, flash, request

from app.db import unit_of_work
from app.domain.merchant import purchasing
from app.domain.suppliers.catalog import CatalogError
from app.domain.suppliers.service import import_catalog
from app.errors import InvalidInput
from app.web.deps import rt
from app.web.merchant.common import back_to, enqueue, merchant, page

bp = Blueprint("suppliers", __name__, url_prefix="/suppliers")


@bp.get("/")
def index():
    return _list()


def _list(status: int = 200, **context):
    with unit_of_work(rt().sessions) as session:
        rows = purchasing.supplier_rows(session, merchant().shop_id)
    return page("merchant/suppliers.html", status, suppliers=rows, **context)


@bp.get("/<id:supplier_id>")
def catalog(supplier_id: int):
    with unit_of_work(rt().sessions) as session:
        supplier, items = purchasing.catalog_items(session, merchant().shop_id, supplier_id)
    return page("merchant/supplier.html", supplier=supplier, items=items)


@bp.post("/catalog")
def upload():
    """Import the uploaded CSV in one transaction; a bad file changes nothing."""
    upload = request.files.get("catalog")
    if upload is None or not upload.filename:
        return _list(400, upload_error="Choose a CSV file to upload.")
    data = upload.read()
    try:
        with unit_of_work(rt().sessions) as session:
            summary = import_catalog(session, merchant().shop_id, data)
    except CatalogError as exc:
        return _list(400, problems=exc.problems, filename=upload.filename)
    except InvalidInput as exc:
        return _list(400, upload_error=exc.message)
    enqueue(summary.intents)
    flash(f"{upload.filename}: {summary}", "notice")
    return back_to("merchant.suppliers.index")
