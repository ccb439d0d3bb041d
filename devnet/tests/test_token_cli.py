"""`samverkan-dev token` mints tokens the services' verifier accepts."""

import jwt
import pytest

from samverkan.devnet.cli import main
from samverkan.runtime.signing import Signer, fingerprint

pytestmark = pytest.mark.unit

KEY = "k" * 40


def test_token_carries_the_claims_a_node_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "token",
            "--principal",
            "sjostad-kommun",
            "--function",
            "skolskoterska-ekbacken",
            "--role",
            "staff",
            "--role",
            "auditor",
            "--key",
            KEY,
        ]
    )
    assert code == 0
    claims = jwt.decode(
        capsys.readouterr().out.strip(),
        KEY,
        algorithms=["HS256"],
        audience="samverkan",
        issuer="samverkan-dev",
    )
    assert claims["org"] == "sjostad-kommun"
    assert claims["function"] == "skolskoterska-ekbacken"
    assert claims["roles"] == ["staff", "auditor"]
    assert claims["exp"] > claims["iat"]


def test_token_without_key_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAMVERKAN_AUTH_JWT_KEY", raising=False)
    assert main(["token", "--principal", "sjostad-kommun"]) == 2
    assert "SAMVERKAN_AUTH_JWT_KEY" in capsys.readouterr().err


def test_keygen_prints_a_usable_signing_key_and_its_fingerprint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["keygen"]) == 0
    printed = capsys.readouterr()
    key = printed.out.strip()  # alone on stdout: `$(samverkan-dev keygen)` is the key
    public_key = Signer(key, "key-1").public_key_b64()
    assert f"public key:  {public_key}\n" in printed.err
    assert f"fingerprint: {fingerprint(public_key)} " in printed.err
