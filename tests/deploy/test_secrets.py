"""Secrets of the local stack: one file per principal (0600 in 0700 directories), an older home's
shared credentials file migrated, the operators' CLI given the operator's secret only, and the
stack's TLS files."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from alliance.operator.cli import settings_for
from harness import security


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_principal_has_a_secret_file_of_its_own_readable_by_its_owner_alone(tmp_path: Path) -> None:
    cbp = security.secret_file(tmp_path, "us-cbp")
    store = security.secret_file(tmp_path, "svc-firearms", "store")
    assert cbp == tmp_path / "secrets" / "kafka" / "us-cbp"
    assert store == tmp_path / "secrets" / "store" / "svc-firearms"
    assert mode(cbp) == mode(store) == 0o600
    assert mode(tmp_path / "secrets") == mode(cbp.parent) == mode(store.parent) == 0o700
    assert security.password(tmp_path, "us-cbp") == cbp.read_text()  # kept: the same on every read
    assert len(cbp.read_text()) >= 32
    assert security.password(tmp_path, "svc-firearms") != security.password(tmp_path, "svc-firearms", "store")
    assert not (tmp_path / "kafka" / "credentials.json").exists()  # no file holds more than one secret
    for name in ("../admin", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="cannot name a principal"):
            security.secret_file(tmp_path, name)


def test_an_older_home_s_credentials_file_is_split_into_one_file_each(tmp_path: Path) -> None:
    old = {"admin": "A" * 32, "operator": "O" * 32, "us-cbp": "C" * 32}
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / "credentials.json").write_text(json.dumps(old))
    (tmp_path / "secrets" / "kafka").mkdir(parents=True)
    (tmp_path / "secrets" / "kafka" / "us-cbp").write_text("C" * 32)  # a migration cut short before

    assert security.password(tmp_path, "operator") == "O" * 32  # the running broker's passwords are kept
    assert {p: security.password(tmp_path, p) for p in old} == old
    assert all(mode(tmp_path / "secrets" / "kafka" / p) == 0o600 for p in ("admin", "operator"))
    # Once a principal has its own file, that file alone counts (the old one is the operator's to remove).
    (tmp_path / "kafka" / "credentials.json").write_text(json.dumps({**old, "operator": "changed"}))
    assert security.password(tmp_path, "operator") == "O" * 32
    (tmp_path / "kafka" / "credentials.json").unlink()
    assert security.password(tmp_path, "operator") == "O" * 32


def test_the_operators_cli_reads_the_operator_s_secret_and_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ALLIANCE_KAFKA_USERNAME", "ALLIANCE_KAFKA_PASSWORD", "ALLIANCE_KAFKA_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALLIANCE_HOME", str(tmp_path))
    operator = security.password(tmp_path, "operator")
    security.password(tmp_path, "admin")
    opened: list[str] = []
    original = Path.read_text

    def spy(self: Path, *args: object, **kwargs: object) -> str:
        opened.append(self.name)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", spy)
    settings = settings_for(None)
    assert settings.kafka_username == "operator"
    assert settings.kafka_password is not None
    assert settings.kafka_password.get_secret_value() == operator
    assert opened == ["operator"]

    elsewhere = tmp_path / "mounted-secret"
    elsewhere.write_text("from-a-vault\n")
    chosen = settings_for(elsewhere)
    assert chosen.kafka_password is not None
    assert chosen.kafka_password.get_secret_value() == "from-a-vault"


def test_the_stack_s_tls_files_a_ca_and_a_broker_certificate_it_signed_for_the_hosts(tmp_path: Path) -> None:
    first = security.make_tls(tmp_path / "tls", ["127.0.0.1", "localhost"])
    assert mode(first.keystore) == 0o600
    assert mode(tmp_path / "tls") == 0o700
    assert mode(tmp_path / "tls" / "ca.key") == 0o600
    keystore = first.keystore.read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka's PEM keystore wants
    assert "BEGIN CERTIFICATE" in keystore
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(first.ca), str(first.keystore)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stderr
    assert {"IP:127.0.0.1", "DNS:localhost"} <= security._alt_names(first.keystore)

    again = security.make_tls(tmp_path / "tls", ["127.0.0.1", "localhost"])  # idempotent: nothing reissued
    assert again.keystore.read_text() == keystore
    wider = security.make_tls(tmp_path / "tls", ["127.0.0.1", "localhost", "kafka-1"])  # a new name: reissued
    assert wider.keystore.read_text() != keystore
    assert wider.ca.read_bytes() == first.ca.read_bytes()
    assert "DNS:kafka-1" in security._alt_names(wider.keystore)


def test_the_store_password_is_sent_to_postgresql_only_as_a_scram_verifier() -> None:
    verifier = security.scram_verifier("correct horse")
    kind, rest = verifier.split("$", 1)
    assert kind == "SCRAM-SHA-256"
    assert "correct horse" not in verifier
    iterations, salt_and_keys = rest.split(":", 1)
    assert iterations == "4096"
    assert len(salt_and_keys.split("$")) == 2
    assert security.scram_verifier("correct horse") != verifier  # a fresh salt each time
