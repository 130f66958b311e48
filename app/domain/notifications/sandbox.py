"""Merchant templates are untrusted code: Liquid with hard limits and a CPU budget.

Liquid (python-liquid, the language of Shopify's own notification templates) has no
arithmetic operators, no attribute access on Python objects and no way to define
functions, so the tricks that sank Jinja's sandbox (`9**(9**8)` folded at compile time,
`''.__class__`) do not parse. What Liquid can still do, loop and grow strings, is capped:
loop iterations, output size, assigned values, nesting, every filter's input and output.
On top of that each render gets a budget of CPU time, checked before every node and
filter: a template that would hold a web or worker process longer is refused, and one
refusal costs at most the budget.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Mapping
from functools import cache, lru_cache

from liquid import Environment, RenderContext
from liquid.exceptions import LiquidError
from liquid.template import BoundTemplate

CPU_BUDGET_SECONDS = 0.050
LOOP_ITERATIONS = 2_000  # a message lists an order's lines, a few hundred at most
MAX_OUTPUT_BYTES = 100_000  # Gmail clips an email beyond 102 KB anyway
MAX_TEXT = 100_000  # characters of any string a filter takes or makes
MAX_ITEMS = 10_000  # items of any list a filter takes or makes: some filters work item by item


class TemplateError(Exception):
    """A template that does not parse, fails, or costs too much; the message is one line."""


class _OverBudget(Exception):
    pass


_clock = threading.local()  # each render's deadline, on the thread that renders it


def _check_clock() -> None:
    if time.thread_time() - _clock.collecting > _clock.deadline:
        raise _OverBudget


def _garbage_collection(phase: str, _info: dict) -> None:
    """Move a render's deadline past a collection that ran on its thread meanwhile.

    A full collection of a big process costs 100 ms of CPU or more; it is the process's
    housekeeping, not the template's cost, and counting it refused ordinary templates.
    """
    if getattr(_clock, "deadline", None) is None:
        return
    if phase == "start":
        _clock.gc_started = time.thread_time()
    elif getattr(_clock, "gc_started", None) is not None:
        _clock.collecting += time.thread_time() - _clock.gc_started
        _clock.gc_started = None


gc.callbacks.append(_garbage_collection)


class _Probe:
    """Stands in for a render context's list of disabled tags.

    python-liquid asks `if context.disabled_tags:` before it renders any node, so
    answering that question is a check of the budget that no node, loop body or branch
    can avoid. No tag is disabled: the list is always empty.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        _check_clock()
        return False

    def __iter__(self):
        return iter(())

    def __contains__(self, _item) -> bool:
        return False


_PROBE = _Probe()


def _check_size(value: object) -> None:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise TemplateError(f"a text grew beyond {MAX_TEXT:,} characters")
    if isinstance(value, list | tuple | range | Mapping) and len(value) > MAX_ITEMS:
        raise TemplateError(f"a list grew beyond {MAX_ITEMS:,} items")


def _bounded(func: Callable) -> Callable:
    def call(left, *args, **kwargs):
        _check_clock()
        _check_size(left)
        result = func(left, *args, **kwargs)
        _check_size(result)
        return result
    return call


class _Context(RenderContext):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.disabled_tags = _PROBE

    def filter(self, name, token):  # noqa: A003 - python-liquid's name
        return _bounded(super().filter(name, token))


class _Template(BoundTemplate):
    context_class = _Context


class _Environment(Environment):
    template_class = _Template
    loop_iteration_limit = LOOP_ITERATIONS
    output_stream_limit = MAX_OUTPUT_BYTES
    local_namespace_limit = MAX_OUTPUT_BYTES
    context_depth_limit = 16
    block_nesting_limit = 16


@cache
def _environment(html: bool) -> Environment:
    env = _Environment(autoescape=html)
    for tag in ("include", "render"):  # one template per message: none calls another or itself
        del env.tags[tag]
    return env


@lru_cache(maxsize=512)
def _parsed(source: str, html: bool) -> BoundTemplate:
    # A shop's few templates are rendered for every message: parse each once.
    return _environment(html).from_string(source)


def render(source: str, data: Mapping[str, object], *, html: bool,
           budget: float = CPU_BUDGET_SECONDS) -> str:
    """The template's output, or TemplateError saying in one line why there is none."""
    _clock.deadline, _clock.collecting = time.thread_time() + budget, 0.0
    try:
        template = _parsed(source, html)
        _check_clock()
        return template.render(data)
    except _OverBudget:
        raise TemplateError(f"it takes too long to render (more than "
                            f"{budget * 1000:.0f} ms)") from None
    except LiquidError as exc:
        raise TemplateError(_one_line(exc)) from None
    except (RecursionError, MemoryError, ValueError, ArithmeticError, TypeError) as exc:
        reason = str(exc).split(";")[0]
        raise TemplateError(f"it cannot be rendered: {type(exc).__name__}: {reason}") from None
    finally:
        _clock.deadline = None


def _one_line(exc: LiquidError) -> str:
    where = exc.context()
    message = str(exc.message or type(exc).__name__).splitlines()[0]
    return f"{message} (line {where[0]}, column {where[1] + 1})" if where else message
