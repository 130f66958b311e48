"""The `backorder` command line (CONTRACT.md): thin wrappers over services."""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import click

from app.config import Settings
from app.db import unit_of_work
from app.errors import BackorderError, ConfigError
from app.runtime import Runtime


class _Context:
    """Builds the Runtime only when a command needs it, so --help works anywhere."""

    _rt: Runtime | None = None

    @property
    def rt(self) -> Runtime:
        if self._rt is None:
            self._rt = Runtime(Settings.from_env())
        return self._rt


pass_ctx = click.make_pass_decorator(_Context, ensure=True)


@click.group()
def cli() -> None:
    """Backorder service: keep selling what ran out, and tell every customer when it ships."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: _Context) -> None:
    """Apply migrations up to head (the release process)."""
    from app.migrate import upgrade
    upgrade(ctx.rt.settings.database_url)
    click.echo("database is at head")


@cli.group()
def shops() -> None:
    """Shops using the service."""


@shops.command("add")
@click.argument("domain")
@click.option("--token", required=True, help="the custom app's Admin API access token")
@pass_ctx
def shops_add(ctx: _Context, domain: str, token: str) -> None:
    """Register a custom-app shop, subscribe its webhooks and sync its catalog."""
    from app.domain.shops.onboarding import onboard_shop
    from app.domain.shops.service import normalise_domain
    from app.security import TokenCipher
    settings = ctx.rt.settings
    domain = normalise_domain(domain)
    try:  # subscribing comes first: when it fails, nothing is registered
        shop_id = onboard_shop(
            ctx.rt.sessions, domain=domain,
            token_ciphertext=TokenCipher(settings.secret_key).encrypt(token),
            admin=ctx.rt.shopify_admin(domain, token),
            callback_url=f"{settings.public_url}/webhooks/shopify")
    except BackorderError as exc:
        raise click.ClickException(
            f"subscribing {domain}'s webhooks failed ({exc}); nothing was registered: "
            f"run the same command again") from exc
    from workers import context, shopify
    context.install(ctx.rt)
    try:
        count = shopify.sync_shop(shop_id)
    except BackorderError as exc:
        raise click.ClickException(
            f"shop {domain} registered (id {shop_id}) and its webhooks subscribed, but the "
            f"catalog sync failed ({exc}): retry it with `backorder sync --shop {domain}`"
        ) from exc
    click.echo(f"shop {domain} registered (id {shop_id}), webhooks subscribed, "
               f"{count} variants synced")


@cli.command()
@click.option("--shop", "shop_domain", default=None, help="only this shop's webhooks")
@click.option("--since", type=click.DateTime(), default=None, help="received at or after (UTC)")
@pass_ctx
def replay(ctx: _Context, shop_domain: str | None, since: datetime | None) -> None:
    """Re-enqueue stored webhooks that were not processed."""
    from app import jobs
    from app.domain.intake.service import pending_event_ids
    from app.domain.intents import ProcessWebhook
    if since and since.tzinfo is None:
        from datetime import UTC
        since = since.replace(tzinfo=UTC)
    with unit_of_work(ctx.rt.sessions) as session:
        ids = pending_event_ids(session, shop_domain=shop_domain, since=since, limit=1_000_000)
    failed = len(ids) - jobs.enqueue(ctx.rt.redis, [ProcessWebhook(i) for i in ids])
    if failed:
        raise click.ClickException(f"{failed} of {len(ids)} webhooks could not be enqueued")
    click.echo(f"re-enqueued {len(ids)} webhooks")


@cli.command()
@click.option("--shop", "shop_domain", required=True, help="the shop's myshopify.com domain")
@pass_ctx
def sync(ctx: _Context, shop_domain: str) -> None:
    """Pull variants, inventory and open orders from Shopify and recompute everything."""
    from app.domain.shops.service import get_shop
    from workers import context, shopify
    with unit_of_work(ctx.rt.sessions) as session:
        shop_id = get_shop(session, shop_domain).id
    context.install(ctx.rt)
    count = shopify.sync_shop(shop_id)
    click.echo(f"synced {shop_domain}: {count} variants recomputed")


@cli.command()
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@pass_ctx
def worker(ctx: _Context, burst: bool) -> None:
    """Run an RQ worker on every queue, with the scheduler on."""
    from workers.run import run_worker
    run_worker(ctx.rt, burst=burst)


@cli.command("run-local")
@click.option("--port", type=int, default=None, help="web port  [default: $PORT, else 8000]")
def run_local(port: int | None) -> None:
    """Run web and worker locally: SQLite, an embedded Redis, console SMS and email."""
    from app.config import port_from_env
    from app.devserver import run
    run(port=port if port is not None else port_from_env())


@cli.group()
def catalog() -> None:
    """Supplier catalogs."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--shop", "shop_domain", required=True, help="the shop's myshopify.com domain")
@pass_ctx
def catalog_import(ctx: _Context, file: str, shop_domain: str) -> None:
    """Import a supplier catalog CSV: all rows or, listing every problem, none."""
    from app import jobs
    from app.domain.shops.service import get_shop
    from app.domain.suppliers.catalog import CatalogError
    from app.domain.suppliers.service import import_catalog
    with open(file, "rb") as handle:
        data = handle.read()
    try:
        with unit_of_work(ctx.rt.sessions) as session:
            summary = import_catalog(session, get_shop(session, shop_domain).id, data)
    except CatalogError as exc:
        click.echo(f"{file}: not imported, {len(exc.problems)} problem(s):", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    jobs.enqueue(ctx.rt.redis, summary.intents)
    click.echo(f"{file}: {summary}")


@shops.command("login-link")
@click.argument("domain")
@pass_ctx
def shops_login_link(ctx: _Context, domain: str) -> None:
    """Print a one-time link (15 minutes) that logs the shop's merchant in to /app."""
    from app.demo import dev_settings
    from app.domain.shops.service import get_shop
    from app.web.merchant.identity import login_link
    try:
        runtime = ctx.rt
    except ConfigError:  # no SECRET_KEY: sign with the key `make run` gave the local service
        runtime = Runtime(dev_settings())
    with unit_of_work(runtime.sessions) as session:
        shop = get_shop(session, domain)
        if not shop.active:
            raise click.ClickException(f"{shop.domain} has uninstalled the app")
        click.echo(login_link(runtime.settings, shop))


@cli.command()
@click.option("--url", default="http://localhost:8000", show_default=True,
              help="the running service (`make run`)")
@click.option("--orders", default=40, show_default=True, help="orders in the flash sale")
def demo(url: str, orders: int) -> None:
    """Create a demo shop and play a flash sale against the locally running service."""
    from app.demo import run_demo
    run_demo(url, orders=orders, say=click.echo)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except BackorderError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
