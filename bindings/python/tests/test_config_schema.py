"""The binding's typed configuration against the library's own schema (oauth_config_schema()).

A key added to the core fails these tests until the binding has it: in ClientConfig (the
TypedDict) and as a keyword argument of Client (with the matching Python type)."""
import inspect
import json
import subprocess
import typing

import pytest

import cxoauth
import cxoauth._config

PY_TYPES = {"string": str, "integer": int, "boolean": bool, "number": float,
            "object": typing.Dict[str, typing.Any]}


@pytest.fixture(scope="module")
def schema():
    return cxoauth.config_schema()


def test_schema_matches_the_installed_file_format(schema):
    assert schema["version"] == cxoauth.version()
    assert schema["keys"] and all({"name", "type", "env", "secret"} <= set(k) for k in schema["keys"])


def test_every_core_key_is_a_typed_config_key(schema):
    hints = typing.get_type_hints(cxoauth.ClientConfig)
    core = {k["name"]: k for k in schema["keys"]}
    missing = sorted(set(core) - set(hints))
    assert not missing, f"core keys missing from cxoauth.ClientConfig: {missing}"
    stale = sorted(set(hints) - set(core))
    assert not stale, f"ClientConfig keys the core does not know: {stale}"
    for name, key in core.items():
        assert hints[name] == PY_TYPES[key["type"]], (name, hints[name], key["type"])


def test_every_core_key_is_a_client_keyword(schema):
    params = inspect.signature(cxoauth.Client.__init__).parameters
    kw = {n: p for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    core = {k["name"]: k for k in schema["keys"]}
    missing = sorted(set(core) - set(kw))
    assert not missing, f"core keys missing from Client(...) keywords: {missing}"
    assert not sorted(set(kw) - set(core)), "stale Client keywords"
    hints = typing.get_type_hints(cxoauth.Client.__init__)
    for name, key in core.items():
        assert kw[name].default is None, name
        assert hints[name] == typing.Optional[PY_TYPES[key["type"]]], (name, hints[name])


def _sample(key):
    if key.get("enum"):
        return key["enum"][0]
    if key["type"] == "integer":
        return key["default"] if key["default"] is not None else key.get("minimum", 1)
    if key["type"] == "number":
        return key["default"] if key["default"] is not None else key.get("minimum", 0.5)
    if key["type"] == "boolean":
        return True
    if key["type"] == "object":
        return {f["name"]: _sample(f) for f in key.get("properties", [])}
    return "sample-" + key["name"]


def test_every_keyword_reaches_the_library_json(schema, monkeypatch):
    """Client(**{key: value}) puts exactly that key and value into the JSON for
    oauth_client_new (a keyword mapped to a misspelt key would fail here)."""
    seen = []
    real = cxoauth.build_config_json

    def spy(config, overrides):
        text = real(config, overrides)
        seen.append(text)
        raise RuntimeError("stop before oauth_client_new")

    monkeypatch.setattr(cxoauth, "build_config_json", spy)
    for key in schema["keys"]:
        value = _sample(key)
        with pytest.raises(RuntimeError):
            cxoauth.Client(**{key["name"]: value})
        assert json.loads(seen[-1]) == {key["name"]: value}, key["name"]


def test_core_accepts_every_integer_number_and_boolean_key_at_its_default(schema, sim):
    kwargs = {k["name"]: k["default"] for k in schema["keys"]
              if k["type"] in ("integer", "number", "boolean") and k["default"] is not None}
    assert "timeout_ms" in kwargs and "retry_non_idempotent" in kwargs
    assert isinstance(kwargs["refresh_at_fraction"], float) and "rate_limit_pacing" in kwargs
    base = {k: v for k, v in sim.config().items() if k not in kwargs}
    with cxoauth.Client(base, **kwargs) as c:
        assert c.token()


@pytest.fixture(scope="module")
def key_material(tmp_path_factory):
    """An RSA and an EC P-256 key, and a self-signed client certificate (openssl)."""
    d = tmp_path_factory.mktemp("keys")

    def ssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem")
    ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem")
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/CN=cxoauth py", "-keyout", "client.key", "-out", "client.pem")
    return d


def needs(key, value, keys):
    """What an enum value needs besides itself (key files for the key-based methods)."""
    if (key, value) == ("client_auth", "private_key_jwt"):
        return {"client_assertion_key_file": str(keys / "rsa.pem")}
    if (key, value) == ("client_auth", "tls_client_auth"):
        return {"client_cert_file": str(keys / "client.pem"),
                "client_key_file": str(keys / "client.key")}
    if key == "client_assertion_alg":
        return {"client_assertion_key_file": str(keys / ("ec.pem" if value == "ES256" else "rsa.pem"))}
    return {}


@pytest.mark.parametrize("key", ["client_auth", "cxone_grant", "platform", "client_assertion_alg"])
def test_core_accepts_every_enum_value(schema, key, sim, key_material):
    spec = next(k for k in schema["keys"] if k["name"] == key)
    cxone = {"platform": "cxone", "issuer": sim.base, "client_id": "a", "client_secret": "b",
             "access_key_id": "k", "access_key_secret": "s"}
    for value in spec["enum"]:
        if key == "platform":
            base = cxone if value == "cxone" else sim.config()
        else:
            base = cxone if key == "cxone_grant" else sim.config()
            if value == "access_key_legacy":
                base = {**cxone, "cxone_area": "na1"}
        cxoauth.Client({**base, **needs(key, value, key_material)}, **{key: value}).close()


def test_keywords_override_the_mapping_and_none_means_unset(sim, monkeypatch):
    cfg = sim.config({"timeout_ms": 1})
    seen = []
    real = cxoauth._config.build_config_json

    def spy(config, overrides):  # the JSON text handed to oauth_client_new
        seen.append(real(config, overrides))
        return seen[-1]

    monkeypatch.setattr(cxoauth, "build_config_json", spy)
    with cxoauth.Client(cfg, timeout_ms=5000, scope=None) as c:
        assert len(seen) == 1
        doc = json.loads(seen[0])
        assert doc["timeout_ms"] == 5000 and "scope" not in doc
        assert c.api_base == sim.base
    monkeypatch.undo()
    assert real is cxoauth.build_config_json
    with pytest.raises(TypeError):
        cxoauth.Client(cfg, no_such_key="x")
    with pytest.raises(TypeError):
        cxoauth.Client(42)
