"""The typed configuration: one keyword argument of ``Client`` per core key.

``tests/test_config_schema.py`` checks ``ClientConfig`` and ``Client.__init__`` against the
library's own ``oauth_config_schema()``: a key added to the core fails that test until it is
added here (both places) and to ``Client.__init__``. Until then, a new key is still reachable
through the ``config`` mapping, which is passed to the library as it is.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Union

from typing import TypedDict

__all__ = ["ClientConfig", "ConfigValue", "build_config_json"]

ConfigValue = Union[str, int, float, bool, Dict[str, Any]]


class ClientConfig(TypedDict, total=False):
    """Every key the library accepts (see ``cxoauth.config_schema()`` for types, defaults,
    ranges, enums and environment variables). Schema types: string ``str``, integer ``int``,
    boolean ``bool``, number ``float``, object ``Dict[str, Any]`` (``gateway``: host, protocol,
    port, login_path_prefix, api_path_prefix). Secrets: client_secret, access_key_secret,
    token_cache (may hold a Redis password), client_key_pem."""

    platform: str
    region: str
    issuer: str
    token_url: str
    api_base: str
    client_id: str
    client_secret: str
    access_key_id: str
    access_key_secret: str
    cxone_grant: str
    cxone_area: str
    client_auth: str
    scope: str
    refresh_margin_s: int
    refresh_at_fraction: float
    token_idle_timeout_s: int
    timeout_ms: int
    deadline_ms: int
    max_retries: int
    retry_non_idempotent: bool
    max_retry_after_s: int
    rate_limit_pacing: bool
    token_pool_size: int
    token_pool_fill_interval_ms: int
    backoff_base_ms: int
    backoff_max_ms: int
    max_body_bytes: int
    user_agent: str
    proxy: str
    ca_file: str
    env_file: str
    token_cache: str
    token_cache_prefix: str
    metrics_name: str
    client_cert_file: str
    client_key_file: str
    client_cert_pem: str
    client_key_pem: str
    client_assertion_key_file: str
    client_assertion_alg: str
    client_assertion_kid: str
    token_proxy: str
    api_proxy: str
    gateway: Dict[str, Any]


def build_config_json(
    config: Union[None, str, Mapping[str, Any]], overrides: Mapping[str, Optional[ConfigValue]]
) -> Optional[str]:
    """Merges ``config`` (a JSON object text, any Mapping, or None) with the keyword overrides
    that are not None; None (nothing at all) means "everything from the environment"."""
    set_overrides = {k: v for k, v in overrides.items() if v is not None}
    if config is None and not set_overrides:
        return None
    if isinstance(config, str):
        if not set_overrides:
            return config
        base = json.loads(config)
        if not isinstance(base, dict):
            raise TypeError("config JSON must be an object")
    elif config is None:
        base = {}
    elif isinstance(config, Mapping):
        base = dict(config.items())
    else:
        raise TypeError(f"config must be a Mapping, a JSON string or None, not {type(config).__name__}")
    merged: Dict[str, Any] = {**base, **set_overrides}
    return json.dumps(merged)
