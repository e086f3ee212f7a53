from __future__ import annotations

import pytest

from core_service.crypto import MasterKey, MasterKeyError, SecretBox, generate_password


def box() -> SecretBox:
    return SecretBox(MasterKey.parse(MasterKey.generate()))


def test_sealed_secret_opens_only_in_its_own_context() -> None:
    secret_box = box()
    sealed = secret_box.seal("bloomreach-secret", context="integration/a/bloomreach_api_secret")
    assert "bloomreach-secret" not in sealed
    assert secret_box.open(sealed, context="integration/a/bloomreach_api_secret") == (
        "bloomreach-secret"
    )
    # Copied into another tenant's row, the ciphertext is useless.
    with pytest.raises(MasterKeyError):
        secret_box.open(sealed, context="integration/b/bloomreach_api_secret")


def test_each_seal_is_different() -> None:
    secret_box = box()
    assert secret_box.seal("x", context="c") != secret_box.seal("x", context="c")


def test_another_master_key_cannot_open() -> None:
    sealed = box().seal("secret", context="c")
    with pytest.raises(MasterKeyError, match="sealed with master key"):
        box().open(sealed, context="c")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!!", "base64"), ("c2hvcnQ=", "32 bytes")],
)
def test_malformed_master_key_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(MasterKeyError, match=message):
        MasterKey.parse(text)


def test_credential_verification() -> None:
    secret_box = box()
    password = generate_password()
    stored = secret_box.credential_hash(password)
    assert password not in stored
    assert secret_box.verify_credential(password, stored)
    assert not secret_box.verify_credential(password + "x", stored)
    # The verifier is keyed: another installation's hash of the same password differs.
    assert box().credential_hash(password) != stored


def test_generated_passwords_have_high_entropy() -> None:
    passwords = {generate_password() for _ in range(100)}
    assert len(passwords) == 100
    assert all(len(p) >= 43 for p in passwords)


def test_a_box_with_previous_keys_opens_their_values_and_seals_with_the_current_one() -> None:
    old, new = MasterKey.parse(MasterKey.generate()), MasterKey.parse(MasterKey.generate())
    sealed_old = SecretBox(old).seal("secret", context="c")
    ring = SecretBox(new, [old])
    assert ring.open(sealed_old, context="c") == "secret"
    resealed = ring.seal("secret", context="c")
    assert SecretBox.sealed_with(resealed) == new.key_id == ring.key_id
    assert SecretBox(new).open(resealed, context="c") == "secret"
    with pytest.raises(MasterKeyError, match="SITOO_BR_MASTER_KEY_PREVIOUS"):
        SecretBox(new).open(sealed_old, context="c")


def test_the_verifier_key_can_outlive_the_master_key() -> None:
    old, new = MasterKey.parse(MasterKey.generate()), MasterKey.parse(MasterKey.generate())
    stored = SecretBox(old).credential_hash("pw")
    rotated = SecretBox(new).with_credential_key(old.credential_key())
    assert rotated.verify_credential("pw", stored)
    assert not SecretBox(new).verify_credential("pw", stored)
