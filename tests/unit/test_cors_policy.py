"""Allowed-origin settings (lrs/service/cors.py): parsing, precedence of credential over tenant over global lists."""

from __future__ import annotations

import pytest

from lrs.core.config import Settings
from lrs.service.cors import CorsPolicy
from lrs.service.errors import XAPIError


def _policy(origins: str = "*", tenants: str = "") -> CorsPolicy:
    return CorsPolicy.from_settings(Settings(cors_origins=origins, cors_tenant_origins=tenants))


@pytest.mark.parametrize(("origins", "tenants", "needle"), [
    ("*", "{not json", "LRS_CORS_TENANT_ORIGINS is not JSON"),
    ("*", '{"acme": "https://a.example"}', "list of origins"),
    ("*", '["https://a.example"]', "list of origins"),
    ("lms.example.com", "", "LRS_CORS_ORIGINS"),
    ("*", '{"acme": ["a.example"]}', "acme"),
])
def test_bad_settings_name_the_mistake(origins: str, tenants: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        _policy(origins, tenants)


def test_preflight_origins_are_the_union_or_any() -> None:
    assert _policy().preflight_origins == ["*"]
    assert _policy("").preflight_origins == []
    narrowed = _policy("https://A.example/, https://b.example", '{"t": ["https://t.example"], "key:k": ["https://k.example"]}')
    assert narrowed.preflight_origins == ["https://a.example", "https://b.example", "https://k.example",
                                          "https://t.example"]


def test_check_uses_key_then_tenant_then_global() -> None:
    policy = _policy("https://g.example", '{"t": ["https://t.example"], "key:k": ["https://k.example"]}')
    policy.check("https://k.example", None, "t", "k")
    policy.check("https://t.example", None, "t", "other")
    policy.check("https://g.example", None, "u", "other")
    policy.check("https://G.example/", None, "u", "other")  # case and trailing slash do not matter
    for origin, tenant, key in [("https://t.example", "t", "k"), ("https://g.example", "t", "x"),
                                ("https://t.example", "u", "x")]:
        with pytest.raises(XAPIError) as err:
            policy.check(origin, None, tenant, key)
        assert err.value.status == 403 and origin in err.value.message


def test_no_origin_and_same_origin_are_not_cross_origin() -> None:
    policy = _policy("")
    policy.check(None, "lrs.example:8080", "t", "k")
    policy.check("http://lrs.example:8080", "lrs.example:8080", "t", "k")
    with pytest.raises(XAPIError):
        policy.check("http://other.example", "lrs.example:8080", "t", "k")
