"""message templates: the shops' Jinja templates converted to Liquid

Revision ID: 0012_i15a_liquid_templates
Revises: 0009_i16b_fulfilment_holds

Data only, and expand only: each shop's `notifications.templates` (Jinja) is read and
the Liquid twin of every part is written to `notifications.liquid_templates`, which the
new release reads; the Jinja templates stay where the previous release reads them
until a later migration removes them. A part with no mechanical conversion
(migrations/jinja_to_liquid.py says why) is left out, so that part uses the default
template. Every outcome is logged and kept per shop in
`notifications.liquid_conversion` ({kind: {part: "converted" | "default: why"}}),
which the Messages settings page shows.
"""
import logging

import sqlalchemy as sa
from alembic import op

from migrations.jinja_to_liquid import NotConvertible, convert

revision = '0012_i15a_liquid_templates'
down_revision = '0009_i16b_fulfilment_holds'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')
settings = sa.table('shop_settings', sa.column('shop_id', sa.BigInteger),
                    sa.column('extra', sa.JSON))
NEW_KEYS = ('liquid_templates', 'liquid_conversion')


def upgrade() -> None:
    bind = op.get_bind()
    for shop_id, extra in bind.execute(sa.select(settings.c.shop_id, settings.c.extra)).all():
        jinja = ((extra or {}).get('notifications') or {}).get('templates')
        if not isinstance(jinja, dict) or not jinja:
            continue
        liquid, report = convert_shop(shop_id, jinja)
        notifications = {**extra['notifications'], 'liquid_templates': liquid,
                         'liquid_conversion': report}
        bind.execute(settings.update().where(settings.c.shop_id == shop_id)
                     .values(extra={**extra, 'notifications': notifications}))


def convert_shop(shop_id: int, jinja: dict) -> tuple[dict, dict]:
    """({kind: {part: liquid}}, {kind: {part: outcome}}) for one shop's Jinja templates."""
    liquid: dict = {}
    report: dict = {}
    for kind, parts in jinja.items():
        for part, source in (parts.items() if isinstance(parts, dict) else ()):
            try:
                liquid.setdefault(kind, {})[part] = convert(str(source), part)
                outcome = 'converted'
            except NotConvertible as exc:
                outcome = f'default: {exc}'
            report.setdefault(kind, {})[part] = outcome
            log.info('shop %s template %s/%s: %s', shop_id, kind, part, outcome)
    return {k: v for k, v in liquid.items() if v}, report


def downgrade() -> None:
    bind = op.get_bind()
    for shop_id, extra in bind.execute(sa.select(settings.c.shop_id, settings.c.extra)).all():
        notifications = (extra or {}).get('notifications')
        if isinstance(notifications, dict) and any(k in notifications for k in NEW_KEYS):
            kept = {k: v for k, v in notifications.items() if k not in NEW_KEYS}
            bind.execute(settings.update().where(settings.c.shop_id == shop_id)
                         .values(extra={**extra, 'notifications': kept}))
