import io
from pathlib import Path

import pytest

from person_matching.cli import COLUMNS, evaluate, main
from person_matching.matching import PersonRecord, jaro_winkler, match_people

EVALUATION = Path(__file__).resolve().parents[1] / "evaluation"


def same(a: PersonRecord, b: PersonRecord) -> bool:
    return match_people(a, b).match


P = PersonRecord.parse


@pytest.mark.parametrize(
    ("left", "right", "why"),
    [
        (P("José Luis", "Hernández Garza", "1988-03-14"), P("JOSE LUIS", "HERNANDEZ", "1988-03-14"), "single surname"),
        (P("José Luis", "Hernández Garza", "1988-03-14"), P("Jose Luis Garza", "Hernandez", "1988-03-14"), "middle"),
        (P("José", "Hernández Garza", "1988-03-14"), P("Pepe", "Hernández-Garza", "1988-03-14"), "nickname"),
        (P("Juan Carlos", "Ortiz Ochoa", "1970-02-05"), P("John Charles", "Ortiz", "1970-05-02"), "equivalent"),
        (P("María", "de la Cruz Pérez", "1975-01-02"), P("MARIA", "DELACRUZ", "1975"), "particles"),
        (P("Rafael", "Caro Quintero", ""), P("Caro Quintero", "Rafael", ""), "order"),
    ],
)
def test_same_person_across_conventions(left: PersonRecord, right: PersonRecord, why: str) -> None:
    result = match_people(left, right)
    assert result.match, (why, result)
    assert result.reasons


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (P("Juan", "García López", "1980-01-01"), P("Juana", "García López", "1980-01-01")),
        (P("José", "Hernández Garza", "1988-03-14"), P("José", "Hernández López", "1988-03-14")),
        (P("José", "Hernández Garza", "1988-03-14"), P("José", "Hernández Garza", "1991-07-02")),
        (P("Juan", "Pérez", ""), P("Pedro", "Pérez", "")),
    ],
)
def test_different_people_who_look_alike(left: PersonRecord, right: PersonRecord) -> None:
    assert not same(left, right)


def test_reasons_explain_the_decision() -> None:
    result = match_people(
        P("Pepe", "Hernández Garza", "1988-14-03", "MX"), P("José", "Hernández Garza", "1988-03-14", "MX")
    )
    assert result.match
    assert "given name pepe ~ jose (nickname or equivalent)" in result.reasons
    assert "same date of birth" in result.reasons  # 1988-14-03 read as YYYY-DD-MM


def test_aliases_are_compared_too() -> None:
    fugitive = PersonRecord.parse("Joaquín", "Guzmán Loera", "1957-04-04", aliases=["Chapo Guzmán"])
    assert same(fugitive, P("Chapo", "Guzmán", "1957-04-04"))


def test_jaro_winkler() -> None:
    assert jaro_winkler("martha", "marhta") == pytest.approx(0.961, abs=0.001)
    assert jaro_winkler("abc", "xyz") == 0.0


@pytest.mark.parametrize("name", ["person_pairs.csv", "person_pairs_hard.csv"])
def test_matcher_meets_its_targets_on_the_labelled_sets(name: str) -> None:
    with (EVALUATION / name).open(newline="", encoding="utf-8") as handle:
        precision, recall, wrong = evaluate(handle)
    assert precision >= 0.98, wrong[:5]
    assert recall >= 0.95, wrong[:5]


def test_cli_adds_match_score_and_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "pairs.csv"
    source.write_text(
        ",".join(COLUMNS) + "\nJosé,Hernández Garza,1988-03-14,MX,PEPE,HERNANDEZ,1988-03-14,MX\n"
        "Ana,Ruiz,,,Bea,Ruiz,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    assert main(["match", str(source), "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",match,score,reasons")
    assert lines[1].split(",")[8] == "true"
    assert lines[2].split(",")[8] == "false"


def test_cli_refuses_a_file_without_the_expected_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,dob\nx,y\n", encoding="utf-8")
    assert main(["match", str(bad)]) == 2
    assert "missing column(s): left_given_names" in capsys.readouterr().err


def test_evaluate_reads_labels() -> None:
    csv_text = ",".join([*COLUMNS, "expected_match"]) + "\nAna,Ruiz,,,Ana,Ruiz,,,true\nAna,Ruiz,,,Bea,Ruiz,,,true\n"
    precision, recall, wrong = evaluate(io.StringIO(csv_text))
    assert (precision, recall, len(wrong)) == (1.0, 0.5, 1)
