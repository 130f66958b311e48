"""Purchase orders by email: readable text, the lines as CSV, the supplier's link.

Each PO number always gets the same Message-ID, so a resend after an ambiguous
failure is recognisable as the same message by the supplier's mail system and
by the supplier reading it.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from app.domain.ports import Attachment, Email, EmailSender, PurchaseOrderDoc
from app.errors import PermanentError

CSV_COLUMNS = ("po_number", "sku", "supplier_sku", "quantity", "unit_cost", "currency",
               "expected_on")


class EmailSupplierChannel:
    """SupplierChannel that mails the PO through any EmailSender (SMTP or console)."""

    def __init__(self, sender: EmailSender, *, message_id_domain: str):
        self._sender = sender
        self._domain = message_id_domain

    def send_purchase_order(self, po: PurchaseOrderDoc) -> None:
        """Send the PO; TransientError / PermanentError come from the EmailSender."""
        if not po.supplier_email:
            raise PermanentError(f"supplier {po.supplier_name!r} has no email address")
        self._sender.send_email(build_po_email(po, message_id_domain=self._domain))


def build_po_email(po: PurchaseOrderDoc, *, message_id_domain: str) -> Email:
    """The email for a PO; the same PO always gives the same message."""
    return Email(
        to=po.supplier_email or "", subject=f"Purchase order {po.number} from {po.shop_name}",
        text=render_text(po),
        attachments=(Attachment(f"{po.number}.csv", render_csv(po), "text/csv"),),
        message_id=f"<purchase-order.{po.number}@{message_id_domain}>",
        headers={"X-Purchase-Order": po.number})


def render_text(po: PurchaseOrderDoc) -> str:
    """The PO as plain text a person reads in any mail client."""
    rows = [("SKU", "Your SKU", "Qty", "Unit cost", "Expected")]
    rows += [(line.sku, line.supplier_sku, str(line.quantity), line.unit_cost,
              line.expected_on.isoformat() if line.expected_on else "-") for line in po.lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                      for row in rows)
    total = sum((Decimal(line.unit_cost) * line.quantity for line in po.lines), Decimal(0))
    return (f"Hello {po.supplier_name},\n\n"
            f"{po.shop_name} orders the items below (purchase order {po.number}).\n\n"
            f"{table}\n\nTotal: {total.quantize(Decimal('0.01'))} {po.currency}\n\n"
            f"Please confirm the order, or tell us other delivery dates, here:\n{po.link}\n\n"
            f"The lines are also attached as {po.number}.csv.\n")


def render_csv(po: PurchaseOrderDoc) -> bytes:
    """The PO lines as CSV (UTF-8), one row per line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in po.lines:
        writer.writerow((po.number, inert(line.sku), inert(line.supplier_sku), line.quantity,
                         line.unit_cost, po.currency,
                         line.expected_on.isoformat() if line.expected_on else ""))
    return out.getvalue().encode("utf-8")


# OWASP's CSV injection advice: a spreadsheet runs a cell that starts with one of these as
# a formula, unless a single quote goes first. (defusedcsv leaves out tab and carriage
# return, which OWASP lists too.)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: str | None) -> str | None:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell and cell.startswith(FORMULA_STARTS) else cell
