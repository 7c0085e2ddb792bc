"""Tokens, roles and declared access, without a server."""

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import (
    Access,
    Authenticator,
    Principal,
    Role,
    TokenIssuer,
    TokenVerifier,
    allow,
    authorize,
    key_id,
    load_public_keys,
    policy_for,
    public_pem,
)
from services.common.errors import PermissionDenied, Unauthenticated

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
ISSUER = TokenIssuer(KEY)
VERIFIER = TokenVerifier({key_id(KEY.public_key()): KEY.public_key()}, leeway_s=60)


def test_a_token_carries_its_subject_roles_and_depots() -> None:
    token = ISSUER.issue("li.wei", [Role.DEPOT_STAFF], depots=["D-CORPS", "D-TLS"])
    principal = VERIFIER.verify(token)
    assert principal.subject == "li.wei"
    assert principal.roles == {Role.DEPOT_STAFF}
    assert principal.depots == {"D-CORPS", "D-TLS"}


def test_expiry_is_honoured_with_the_clock_skew_allowed() -> None:
    now = datetime.now(UTC)
    just_expired = ISSUER.issue(
        "a", [Role.ADMIN], ttl=timedelta(seconds=1), now=now - timedelta(seconds=30)
    )
    assert VERIFIER.verify(just_expired).subject == "a"  # 29 s past expiry, 60 s skew
    long_expired = ISSUER.issue(
        "a", [Role.ADMIN], ttl=timedelta(minutes=1), now=now - timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        VERIFIER.verify(long_expired)


def test_a_forged_signature_is_refused() -> None:
    # Signed by another key but claiming the trusted key's id.
    claims = jwt.decode(ISSUER.issue("a", [Role.ADMIN]), options={"verify_signature": False})
    forged = jwt.encode(claims, OTHER, algorithm="EdDSA", headers={"kid": key_id(KEY.public_key())})
    with pytest.raises(Unauthenticated, match="signature"):
        VERIFIER.verify(forged)
    with pytest.raises(Unauthenticated, match="does not trust"):
        VERIFIER.verify(TokenIssuer(OTHER).issue("a", [Role.ADMIN]))
    with pytest.raises(Unauthenticated, match="not a JWT"):
        VERIFIER.verify("hello")


def test_another_audience_or_an_unknown_role_is_refused() -> None:
    with pytest.raises(Unauthenticated, match=r"(?i)audience"):
        VERIFIER.verify(TokenIssuer(KEY, audience="elsewhere").issue("a", [Role.ADMIN]))
    claims = {
        "sub": "a",
        "roles": ["pilot"],
        "iss": "muster",
        "aud": "muster",
        "iat": int(datetime.now(UTC).timestamp()),
        "exp": int(datetime.now(UTC).timestamp()) + 60,
    }
    token = jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": key_id(KEY.public_key())})
    with pytest.raises(Unauthenticated, match="unknown role"):
        VERIFIER.verify(token)


def test_rotation_old_and_new_keys_both_verify_while_both_are_configured() -> None:
    keys = load_public_keys(public_pem(KEY.public_key()) + public_pem(OTHER.public_key()))
    both = TokenVerifier(keys)
    assert both.verify(TokenIssuer(KEY).issue("old", [Role.ADMIN])).subject == "old"
    assert both.verify(TokenIssuer(OTHER).issue("new", [Role.ADMIN])).subject == "new"


def _scan(depot: str) -> SimpleNamespace:
    return SimpleNamespace(depot_code=depot)


SCAN = Access(
    frozenset({Role.DEPOT_STAFF, Role.ADMIN}),
    depots=lambda r: [r.depot_code] if r.depot_code else [],
)
READ = Access(frozenset({Role.COMMAND, Role.PLANNER, Role.ADMIN}))


def test_depot_staff_act_only_at_their_depots() -> None:
    staff = Principal("li", frozenset({Role.DEPOT_STAFF}), frozenset({"D-CORPS"}))
    authorize("/s/RecordScan", SCAN, staff, _scan("D-CORPS"))
    with pytest.raises(PermissionDenied, match="does not work at D-TLS"):
        authorize("/s/RecordScan", SCAN, staff, _scan("D-TLS"))
    with pytest.raises(PermissionDenied, match="name one of those depots"):
        authorize("/s/RecordScan", SCAN, staff, _scan(""))
    with pytest.raises(PermissionDenied, match="needs one of"):
        authorize("/s/ListKits", READ, staff, None)
    admin = Principal("root", frozenset({Role.ADMIN}))
    authorize("/s/RecordScan", SCAN, admin, _scan("D-TLS"))


class _Servicer:
    @allow(Role.COMMAND)
    async def Get(self, request: object, context: object) -> None: ...

    async def Put(self, request: object, context: object) -> None: ...


def test_every_rpc_must_declare_who_may_call_it() -> None:
    with pytest.raises(RuntimeError, match="no @allow"):
        policy_for(_Servicer(), "pkg.S", ["Get", "Put"])
    policy = policy_for(_Servicer(), "pkg.S", ["Get"])
    assert policy["/pkg.S/Get"].roles == {Role.COMMAND, Role.ADMIN}


def test_the_authenticator_needs_a_bearer_token_except_for_health_and_reflection() -> None:
    auth = Authenticator(VERIFIER, policy_for(_Servicer(), "pkg.S", ["Get"]))
    assert auth.check("/grpc.health.v1.Health/Check", {}, None) is None
    with pytest.raises(Unauthenticated, match="no bearer token"):
        auth.check("/pkg.S/Get", {}, None)
    with pytest.raises(Unauthenticated, match="Bearer <token>"):
        auth.check("/pkg.S/Get", {"authorization": "Basic abc"}, None)
    token = ISSUER.issue("cmd", [Role.COMMAND])
    principal = auth.check("/pkg.S/Get", {"authorization": f"Bearer {token}"}, None)
    assert principal is not None and principal.subject == "cmd" and principal.token == token


def test_a_token_verified_before_still_expires() -> None:
    strict = TokenVerifier({key_id(KEY.public_key()): KEY.public_key()}, leeway_s=0)
    token = ISSUER.issue("a", [Role.ADMIN], ttl=timedelta(seconds=1))
    assert strict.verify(token).subject == "a"  # checked, then remembered
    time.sleep(1.2)
    with pytest.raises(Unauthenticated, match="expired"):
        strict.verify(token)


def test_a_remembered_grant_expires_with_its_token_and_depot_grants_are_checked_each_time() -> None:
    strict = TokenVerifier({key_id(KEY.public_key()): KEY.public_key()}, leeway_s=0)
    checker = Authenticator(strict, {"/s/ListKits": READ, "/s/RecordScan": SCAN})
    reader = {
        "authorization": f"Bearer {ISSUER.issue('cmd', [Role.COMMAND], ttl=timedelta(seconds=1))}"
    }
    first = checker.check("/s/ListKits", reader, None)
    assert first is not None and first.granted == {Role.COMMAND}
    assert checker.check("/s/ListKits", reader, None) is first  # remembered
    with pytest.raises(PermissionDenied, match="needs one of"):  # per method
        checker.check("/s/RecordScan", reader, _scan("D-CORPS"))
    time.sleep(1.2)
    with pytest.raises(Unauthenticated, match="expired"):
        checker.check("/s/ListKits", reader, None)

    staff_token = ISSUER.issue("li", [Role.DEPOT_STAFF], depots=["D-CORPS"])
    staff = {"authorization": f"Bearer {staff_token}"}
    assert checker.check("/s/RecordScan", staff, _scan("D-CORPS")) is not None
    with pytest.raises(PermissionDenied, match="does not work at D-TLS"):
        checker.check("/s/RecordScan", staff, _scan("D-TLS"))
