"""Merchant templates are untrusted code: each hostile one is refused or renders fast.

Jinja's sandbox folded `9**(9**8)` at compile time until the worker was killed, and
nested ranges held a shared worker for seconds. Each template below goes through both
doors: the settings page preview (refused, with the reason next to its field, or
rendered) and the send path (the default instead), each within the CPU budget.
"""

from __future__ import annotations

import gc
import time
from datetime import date

import pytest

from app.domain.merchant.templates import sample
from app.domain.notifications import sandbox
from app.domain.notifications.models import Kind
from app.domain.notifications.rendering import preview, render
from app.errors import InvalidInput

KIND = str(Kind.BACKORDERED)
# A part's budget, and what the machine may add around it (parse, a busy neighbour).
LIMIT = sandbox.CPU_BUDGET_SECONDS + 0.05
BIG = "a" * 5_000

HOSTILE = {
    "huge power": "{{ 9**(9**8) }}",
    "huge power in a range": "{% for x in range(9**9**9) %}{% endfor %}",
    "huge product by filters": "{{ 9" + " | times: 999999999999" * 1_500 + " }}",
    "string repetition": "{{ 'a' * 1000000000 }}",
    "string doubling": "{% assign s = 'aaaaaaaa' %}{% for i in (1..40) %}"
                       "{% assign s = s | append: s %}{% endfor %}{{ s }}",
    "capture doubling": "{% capture s %}aaaaaaaa{% endcapture %}{% for i in (1..40) %}"
                        "{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s }}",
    "split and join growth": "{{ '" + BIG + "'" + " | split: '' | join: 'aa'" * 20 + " }}",
    "huge range": "{{ (1..1000000000) | join: ',' }}",
    "long loop": "{% for i in (1..1000000000) %}x{% endfor %}",
    "nested loops": "{% for a in (1..1000) %}{% for b in (1..1000) %}{% for c in (1..1000) %}"
                    "x{% endfor %}{% endfor %}{% endfor %}",
    "loops over the lines nested": "{% for a in lines %}{% for b in (1..1000) %}"
                                   "{% for c in (1..1000) %}{{ a.title }}{% endfor %}{% endfor %}"
                                   "{% endfor %}",
    "many loops just under the limit": "{% for i in (1..2000) %}{% if 1 == 1 %}{% endif %}"
                                       "{% endfor %}" * 400,
    "busy loops of filters": "{% assign t = '" + "ab" * 10_000 + "' %}" + (
        "{% for i in (1..2000) %}{% assign u = t | replace: 'a', 'b' %}{% endfor %}") * 20,
    "sorting big lists": "{% assign l = '" + "b," * 9_000 + "' | split: ',' %}"
                         "{% for i in (1..2000) %}{% assign s = l | sort | reverse %}{% endfor %}",
    "deep nesting": "{% if true %}" * 500 + "x" + "{% endif %}" * 500,
    "self inclusion": "{% include 'sms' %}{% render 'sms' %}",
    "class attribute": "{{ shop.__class__ }}{{ shop.name.__class__.__mro__ }}",
    "dunder globals": "{{ lines.first.__init__.__globals__ }}{{ customer.__dict__ }}",
    "python method": "{{ shop.name.upper }}{{ lines.pop }}{{ order.keys }}{{ shop.items }}",
    "jinja escape": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "cycle in loops": "{% for i in (1..2000) %}{% cycle 'a', 'b' %}{% endfor %}" * 200,
}


def _content():
    return sample("Fern & Co", KIND, today=date(2030, 3, 1))


def _cpu(call):
    # The render's own cost: not a full collection of all the garbage earlier tests left
    # (the budget does not count one either).
    gc.collect()
    started = time.thread_time()
    try:
        return call(), time.thread_time() - started
    except InvalidInput as exc:
        return exc, time.thread_time() - started


@pytest.mark.parametrize("part", ["text", "html"])
@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_template_is_refused_next_to_its_field_or_renders_fast(name, part):
    outcome, spent = _cpu(lambda: preview(_content(), {KIND: {part: HOSTILE[name]}}))
    assert spent < LIMIT, f"{name}: {spent * 1000:.0f} ms of CPU"
    if isinstance(outcome, InvalidInput):
        assert set(outcome.field_errors) == {part}
        assert outcome.field_errors[part].startswith("This template cannot be used: ")
    else:  # rendered: nothing of Python's insides leaks out
        assert "class" not in outcome[part] and "function" not in outcome[part]
        assert len(outcome[part]) <= sandbox.MAX_OUTPUT_BYTES


@pytest.mark.parametrize("name", HOSTILE)
def test_sending_with_a_hostile_stored_template_costs_at_most_the_budget(name):
    content = _content()
    message, spent = _cpu(lambda: render(content, "email", {KIND: {"text": HOSTILE[name]}}))
    assert spent < LIMIT + 0.01, f"{name}: {spent * 1000:.0f} ms of CPU"
    default = render(content, "email")
    assert message.text == default.text or (
        "class" not in message.text and "function" not in message.text)


def test_the_budget_is_cpu_time_and_its_refusal_says_so():
    with pytest.raises(sandbox.TemplateError, match=r"takes too long to render \(more than 50 ms\)"):
        sandbox.render(HOSTILE["many loops just under the limit"], {}, html=False)
