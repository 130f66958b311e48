"""Imports every model so the metadata (Alembic, erase_shop) sees all tables."""

from app.domain.base import Base  # noqa: F401
from app.domain.customer_options.models import (  # noqa: F401
                                                Alternative,
                                                LineCancellation,
                                                OrderDiscount,
                                                SwitchRequest,
)
from app.domain.customers.models import CustomerDataExport  # noqa: F401
from app.domain.fulfilment.models import FulfilmentSync  # noqa: F401
from app.domain.intake.models import WebhookEvent  # noqa: F401
from app.domain.inventory.models import (  # noqa: F401
                                         CustomerOrder,
                                         Effect,
                                         InventoryLevel,
                                         OrderLine,
                                         ShopSettings,
                                         Variant,
                                         VariantOverride,
)
from app.domain.notifications.models import Notification, SmsConsent  # noqa: F401
from app.domain.shops.models import Shop  # noqa: F401
from app.domain.suppliers.models import (  # noqa: F401
                                         LeadTimeRecord,
                                         PurchaseOrder,
                                         PurchaseOrderLine,
                                         Supplier,
                                         SupplierItem,
)
