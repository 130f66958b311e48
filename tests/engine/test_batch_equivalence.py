"""A batch of events ends where the same events applied one at a time end, in any order.

The worker applies a shop's waiting events in one pass (DESIGN.md, "Flash sales"): every
snapshot stored, each touched variant recomputed once, one commit. That must change
nothing about what the events mean.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.test_convergence import Simulator, actions, final_state
from workers import jobs


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=actions, seed=st.integers(0, 2**32))
def test_a_batch_of_events_ends_in_the_state_of_the_same_events_applied_one_at_a_time(
        rt, client, run_jobs, fake_shopify, monkeypatch, script, seed):
    sim = Simulator()
    for action in script:
        sim.step(action)
    deliveries = list(sim.deliveries)
    random.Random(seed).shuffle(deliveries)
    batches = []
    apply = jobs.apply_waiting

    def recorded(*args, **kwargs):
        applied = apply(*args, **kwargs)
        if applied.event_ids:
            batches.append(len(applied.event_ids))
        return applied
    monkeypatch.setattr(jobs, "apply_waiting", recorded)

    one_at_a_time = final_state(rt, client, run_jobs, fake_shopify, deliveries, each=True)
    assert set(batches) == {1}  # settled after every delivery: batches of one
    batches.clear()
    batched = final_state(rt, client, run_jobs, fake_shopify, deliveries)
    # the opening stock, then all the deliveries in one pass
    assert batches == [1] + ([len(deliveries)] if deliveries else [])
    assert batched == one_at_a_time
