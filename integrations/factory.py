"""The one place adapters are chosen from settings. Dev and tests need no credentials.

Each adapter is imported when it is chosen: a process loads only the vendor SDKs its
settings use (the console twins need none).
"""

from __future__ import annotations

from app.config import Settings
from app.domain.ports import AccessTokenSource, EmailSender, ShopifyAdmin, SmsSender, TokenEndpoint


def shopify_admin(settings: Settings, shop_domain: str,
                  access_token: str | AccessTokenSource) -> ShopifyAdmin:
    """`access_token`: a custom app's fixed token, or a source that refreshes an expiring one."""
    from integrations.shopify.admin import build_admin
    return build_admin(settings, shop_domain, access_token)


def shopify_tokens(settings: Settings) -> TokenEndpoint:
    from integrations.shopify.tokens import ShopifyTokenEndpoint
    return ShopifyTokenEndpoint(settings)


def sms_sender(settings: Settings) -> SmsSender:
    if settings.sms_via_twilio:
        from integrations.twilio.sms import TwilioSmsSender
        return TwilioSmsSender(
            settings.twilio_account_sid, settings.twilio_auth_token,
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_url=settings.twilio_api_url, timeout=settings.http_timeout)
    from integrations.twilio.console import ConsoleSmsSender
    return ConsoleSmsSender()


def email_sender(settings: Settings) -> EmailSender:
    if settings.email_via_smtp:
        from integrations.email.smtp import SmtpEmailSender
        return SmtpEmailSender(
            settings.smtp_host, settings.smtp_port, username=settings.smtp_username,
            password=settings.smtp_password, starttls=settings.smtp_starttls,
            sender=settings.mail_from, timeout=settings.http_timeout)
    from integrations.email.console import ConsoleEmailSender
    return ConsoleEmailSender()
