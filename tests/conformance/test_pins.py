"""Pin vectors say what they pin: each one's predicate holds on its stored output (VEC-6)."""

from __future__ import annotations

import pytest

from liqspec.base.files import get_bundled
from liqspec.conformance import pins_edges, pins_liquidation
from liqspec.conformance.pins import Pin
from liqspec.conformance.scenario_vectors import PINS
from liqspec.conformance.vectors import read_json_file


@pytest.mark.parametrize("pin", PINS, ids=lambda pin: pin.slug)
def test_the_stored_vector_shows_what_its_id_says(pin: Pin) -> None:
    vector = read_json_file(get_bundled("vectors", "scenario", f"{pin.slug}.json"))
    answer = vector.get("expected") or {"error": vector["expected_error"]["reason"]}
    assert pin.shows(answer), f"{pin.slug}: {pin.description}"


def test_pin_ids_are_unique_and_name_a_rule() -> None:
    slugs = [pin.slug for pin in PINS]
    assert len(slugs) == len(set(slugs))
    for pin in PINS:
        family = pin.slug.split("-")[0]
        assert any(rule.replace("-", "").lower() == family for rule in pin.rules), pin.slug


def test_every_list_of_pins_is_generated() -> None:
    for module in (pins_edges, pins_liquidation):
        for name, value in vars(module).items():
            if name.endswith("_PINS"):
                assert all(pin in PINS for pin in value), f"{module.__name__}.{name}"
