"""A SupplierChannel twin for development and tests: keeps what it was asked to send."""

from __future__ import annotations

from app.domain.ports import PurchaseOrderDoc


class FakeSupplierChannel:
    """Records every PO in `sent`; `fail_next` makes the next calls raise instead."""

    def __init__(self) -> None:
        self.sent: list[PurchaseOrderDoc] = []
        self.attempts = 0
        self._failures: list[BaseException] = []

    def fail_next(self, times: int, error: BaseException) -> None:
        self._failures.extend([error] * times)

    def send_purchase_order(self, po: PurchaseOrderDoc) -> None:
        self.attempts += 1
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append(po)
