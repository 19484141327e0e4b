from alliance.domain.ids import derived_id, event_id


def test_derived_ids_are_deterministic_and_distinct() -> None:
    assert derived_id("TR", "SZ-1", 1) == derived_id("TR", "SZ-1", 1)
    assert derived_id("TR", "SZ-1", 1) != derived_id("TR", "SZ-1", 2)
    assert derived_id("TR", "SZ-1", 1).startswith("TR-")
    assert derived_id("TR", "SZ-1", 1)[3:] != derived_id("AS", "SZ-1", 1)[3:]  # kinds never share a uuid
    assert event_id("TR-1", "t", 1) != event_id("TR-1", "t", 2)


def test_company_names_match_across_legal_forms_accents_and_case() -> None:
    from alliance.domain.names import company_key, fold

    assert fold("  Química   Sánchez-López ") == "quimica sanchez lopez"
    keys = {
        company_key(n)
        for n in (
            "Química del Norte, S.A. de C.V.",
            "QUIMICA DEL NORTE SA DE CV",
            "Quimica del Norte S. de R.L. de C.V.",
            "química del norte",
        )
    }
    assert keys == {"quimica del norte"}
    assert company_key("Gulf Coast Solvents, Inc.") == company_key("GULF COAST SOLVENTS LLC") == "gulf coast solvents"
