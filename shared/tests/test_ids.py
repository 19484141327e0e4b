from alliance.ids import derived_id, event_id


def test_derived_ids_are_deterministic_and_distinct() -> None:
    assert derived_id("TR", "SZ-1", 1) == derived_id("TR", "SZ-1", 1)
    assert derived_id("TR", "SZ-1", 1) != derived_id("TR", "SZ-1", 2)
    assert derived_id("TR", "SZ-1", 1).startswith("TR-")
    assert event_id("TR-1", "t", 1) != event_id("TR-1", "t", 2)
