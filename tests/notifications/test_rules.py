"""The pure rules: settings, grouping, what is news for a line, quiet hours, keywords."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.notifications import rules
from app.domain.notifications.models import Kind
from app.domain.notifications.rules import EffectRow, NotifySettings, QuietHours, Told

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
D1, D2 = date(2030, 3, 14), date(2030, 3, 21)


def effect(kind: str, old=None, new=None, *, id_=1, order=1, line=11, at=T0) -> EffectRow:
    iso = lambda v: v.isoformat() if isinstance(v, date) else v  # noqa: E731
    return EffectRow(id_, order, line, kind, iso(old), iso(new), at)


# --- settings -----------------------------------------------------------------

def test_settings_default_to_email_only_with_a_one_day_threshold_and_evening_quiet_hours():
    settings = NotifySettings.from_extra({})
    assert (settings.email_enabled, settings.sms_enabled) == (True, False)
    assert settings.eta_change_threshold_days == 1
    assert settings.quiet_hours == QuietHours(time(21), time(8))


def test_malformed_settings_fall_back_to_their_defaults():
    settings = NotifySettings.from_extra({"notifications": {
        "sms_enabled": "yes", "eta_change_threshold_days": -2,
        "quiet_hours": {"start": "late"}, "templates": "nope"}})
    assert settings == NotifySettings()


def test_quiet_hours_can_be_turned_off():
    assert NotifySettings.from_extra({"notifications": {"quiet_hours": None}}).quiet_hours is None


# --- grouping -------------------------------------------------------------------

def test_an_order_is_ready_once_its_newest_effect_is_older_than_the_window():
    rows = [effect("line_backordered", at=T0 - timedelta(seconds=90)),
            effect("line_backordered", id_=2, order=2, at=T0 - timedelta(seconds=10))]
    ready, recheck = rules.ready_orders(rows, now=T0, window=timedelta(seconds=60),
                                        max_wait=timedelta(minutes=10))
    assert ready == {1}
    assert recheck == T0 + timedelta(seconds=50)


def test_an_order_that_keeps_changing_is_sent_after_the_longest_wait():
    rows = [effect("line_eta_changed", id_=i, at=T0 - timedelta(seconds=30 * i))
            for i in range(0, 25)]
    ready, _ = rules.ready_orders(rows, now=T0, window=timedelta(seconds=60),
                                  max_wait=timedelta(minutes=10))
    assert ready == {1}


# --- what is news for a line ---------------------------------------------------

def news(*effects, told=None, threshold=1):
    return rules.line_update(11, list(effects), told, threshold_days=threshold)


def test_a_new_backorder_is_news_with_its_date():
    assert news(effect("line_backordered", new=D1)) == rules.LineUpdate(11, Kind.BACKORDERED, D1)


def test_a_backorder_without_a_date_is_news_too():
    assert news(effect("line_backordered")).kind == Kind.BACKORDERED


def test_backordered_then_moved_within_the_window_is_one_backorder_notice_with_the_last_date():
    update = news(effect("line_backordered", new=D1), effect("line_eta_changed", D1, D2))
    assert (update.kind, update.eta) == (Kind.BACKORDERED, D2)


def test_a_date_that_moves_and_moves_back_is_no_news():
    assert news(effect("line_eta_changed", D1, D2), effect("line_eta_changed", D2, D1)) is None


def test_backordered_then_covered_within_the_window_is_no_news():
    assert news(effect("line_backordered", new=D1), effect("line_ready_to_ship", D1)) is None


@pytest.mark.parametrize("days,threshold,is_news", [(1, 1, True), (2, 3, False), (3, 3, True),
                                                    (-3, 3, True), (-1, 2, False)])
def test_a_moved_date_is_news_from_the_threshold_on_in_either_direction(days, threshold, is_news):
    moved = D1 + timedelta(days=days)
    update = news(effect("line_eta_changed", D1, moved), threshold=threshold)
    assert (update is not None) == is_news
    if is_news:
        assert (update.kind, update.old_eta, update.eta) == (Kind.ETA_CHANGED, D1, moved)


def test_a_date_becoming_unknown_or_known_is_always_news():
    assert news(effect("line_eta_changed", D1, None), threshold=30).kind == Kind.ETA_CHANGED
    assert news(effect("line_eta_changed", None, D1), threshold=30).kind == Kind.ETA_CHANGED


def test_the_threshold_compares_with_what_the_customer_was_told():
    told = Told(rules.BACKORDERED, D1)
    update = news(effect("line_eta_changed", D1 + timedelta(days=2), D1 + timedelta(days=4)),
                  told=told, threshold=3)
    assert update.old_eta == D1


def test_ready_or_cancelled_is_news_only_for_a_line_told_to_be_backordered():
    assert news(effect("line_ready_to_ship", D1)).kind == Kind.READY_TO_SHIP
    assert news(effect("line_ready_to_ship", D1), told=Told(rules.READY)) is None
    cancelled = news(effect("line_backorder_cancelled", D1, "refunded"))
    assert (cancelled.kind, cancelled.reason, cancelled.old_eta) == (Kind.CANCELLED, "refunded", D1)


def test_the_headline_is_the_most_pressing_news():
    assert rules.headline([Kind.READY_TO_SHIP, Kind.ETA_CHANGED]) == Kind.ETA_CHANGED
    assert rules.headline([Kind.BACKORDERED, Kind.DELAY_NOTICE]) == Kind.DELAY_NOTICE


def test_dedup_keys_depend_on_channel_order_and_what_is_covered_only():
    assert rules.dedup_key("sms", 1, [1, 2]) == rules.dedup_key("sms", 1, [1, 2])
    assert len({rules.dedup_key(c, o, b) for c in ("sms", "email") for o in (1, 2)
                for b in ([1], [1, 2])}) == 8


def test_a_delay_notice_treats_a_date_already_past_as_unknown():
    today = date(2030, 4, 1)
    assert rules.delay_update(11, promised=D1, eta=D2, today=today).eta is None
    assert rules.delay_update(11, promised=D1, eta=today, today=today).eta == today


# --- quiet hours ----------------------------------------------------------------------

EVENING = QuietHours(time(21), time(8))


def local(zone: str, *args) -> datetime:
    return datetime(*args, tzinfo=rules.shop_zone(zone))


@pytest.mark.parametrize("at,expected", [
    ((2030, 3, 1, 22, 30), (2030, 3, 2, 8, 0)),   # evening: next morning
    ((2030, 3, 2, 6, 0), (2030, 3, 2, 8, 0)),     # early morning: this morning
    ((2030, 3, 2, 12, 0), None),                  # daytime: now
    ((2030, 3, 2, 8, 0), None),                   # the end is allowed
    ((2030, 3, 2, 21, 0), (2030, 3, 3, 8, 0)),    # the start is quiet
])
def test_quiet_hours_move_a_send_to_the_next_allowed_time_in_the_shops_zone(at, expected):
    now = local("Europe/Paris", *at)
    result = rules.next_allowed_send(now.astimezone(UTC), "Europe/Paris", EVENING)
    assert result == (local("Europe/Paris", *expected) if expected else now)


def test_quiet_hours_end_at_local_eight_across_a_dst_change():
    # 2030-03-10 is the US spring-forward day: 8:00 EDT is 12:00 UTC, not 13:00.
    now = local("America/New_York", 2030, 3, 9, 23, 0).astimezone(UTC)
    result = rules.next_allowed_send(now, "America/New_York", EVENING)
    assert result.astimezone(UTC) == datetime(2030, 3, 10, 12, 0, tzinfo=UTC)


def test_quiet_hours_within_one_day_are_supported():
    night = QuietHours(time(1), time(6))
    now = local("UTC", 2030, 3, 1, 3, 0)
    assert rules.next_allowed_send(now, "UTC", night) == local("UTC", 2030, 3, 1, 6, 0)


def test_an_unknown_timezone_is_treated_as_utc():
    now = datetime(2030, 3, 1, 23, 0, tzinfo=UTC)
    assert rules.next_allowed_send(now, "Mars/Olympus", EVENING) == datetime(
        2030, 3, 2, 8, 0, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]))
def test_the_next_allowed_time_is_never_earlier_and_never_inside_quiet_hours(now, zone):
    result = rules.next_allowed_send(now, zone, EVENING)
    clock = result.astimezone(rules.shop_zone(zone)).time()
    assert result >= now
    assert time(8) <= clock < time(21)
    assert result - now <= timedelta(hours=12)


# --- phones and keywords ----------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [("+1 (415) 555-0100", "+14155550100"),
                                          ("0044 20 7946 0958", "+442079460958"),
                                          ("555-0100", None), ("", None), (None, None),
                                          ("+0123456789", None)])
def test_phones_are_normalised_to_e164_or_refused(raw, expected):
    assert rules.e164(raw) == expected


@pytest.mark.parametrize("body,word", [("STOP", "stop"), (" stop ", "stop"), ("Stop.", "stop"),
                                       ("STOPALL", "stop"), ("unsubscribe", "stop"),
                                       ("CANCEL", "stop"), ("end", "stop"), ("QUIT", "stop"),
                                       ("START", "start"), ("yes", "start"), ("UNSTOP", "start"),
                                       ("HELP", "help"), ("info", "help"),
                                       ("please stop sending", None), ("thanks!", None),
                                       ("", None)])
def test_inbound_keywords_are_whole_message_matches(body, word):
    assert rules.keyword(body) == word


def test_delivery_states_only_move_forward():
    assert rules.newer_delivery_status(None, "sent")
    assert rules.newer_delivery_status("sent", "delivered")
    assert not rules.newer_delivery_status("delivered", "sent")
    assert not rules.newer_delivery_status("delivered", "failed")
    assert not rules.newer_delivery_status("sent", "made-up")
