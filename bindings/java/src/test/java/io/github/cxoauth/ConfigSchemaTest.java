package io.github.cxoauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** The typed configuration against the library's own schema (oauth_config_schema()): a key
 * added to the core fails these tests until CxOAuthConfig has it. */
@ExtendWith(Sim.class)
class ConfigSchemaTest {
    private static final Map<String, Class<?>> TYPES = Map.of(
            "string", String.class, "integer", Long.class, "boolean", Boolean.class,
            "number", Double.class);
    /** The class of each object key (its builder's setters are checked against the key's
     * "properties"). */
    private static final Map<String, Class<?>> OBJECT_TYPES = Map.of(
            "gateway", CxOAuthConfig.Gateway.class);

    static Class<?> type(Map<String, Object> k) {
        return "object".equals(k.get("type")) ? OBJECT_TYPES.get((String) k.get("name")) : TYPES.get((String) k.get("type"));
    }
    private static final Set<String> NOT_KEYS = Set.of("set", "setAll", "build");

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> keys() {
        return (List<Map<String, Object>>) CxOAuth.configSchema().get("keys");
    }

    static String camel(String snake) {
        StringBuilder sb = new StringBuilder();
        boolean up = false;
        for (char ch : snake.toCharArray()) {
            if (ch == '_') {
                up = true;
            } else {
                sb.append(up ? Character.toUpperCase(ch) : ch);
                up = false;
            }
        }
        return sb.toString();
    }

    /** Builder setters by name, with their boxed parameter type (the int overloads of the
     * integer keys are checked separately). */
    static Map<String, Class<?>> setters() {
        return setters(CxOAuthConfig.Builder.class);
    }

    static Map<String, Class<?>> setters(Class<?> builder) {
        Map<String, Class<?>> m = new HashMap<>();
        for (Method meth : builder.getDeclaredMethods()) {
            if (!Modifier.isPublic(meth.getModifiers()) || NOT_KEYS.contains(meth.getName())) continue;
            assertEquals(1, meth.getParameterCount(), meth.getName());
            Class<?> t = meth.getParameterTypes()[0];
            if (t == int.class) continue;
            assertNull(m.put(meth.getName(), t), "two setters " + meth.getName());
        }
        return m;
    }

    @Test
    void schemaVersionIsTheLibrarys() {
        Map<String, Object> s = CxOAuth.configSchema();
        assertEquals(CxOAuth.version(), s.get("version"));
        for (Map<String, Object> k : keys()) {
            assertTrue(k.keySet().containsAll(Set.of("name", "type", "env", "secret")), k.toString());
        }
    }

    @Test
    void everyCoreKeyIsATypedSetterAndNoOther() {
        checkSetters(keys(), CxOAuthConfig.Builder.class, "CxOAuthConfig.Builder");
    }

    @SuppressWarnings("unchecked")
    static void checkSetters(List<Map<String, Object>> keys, Class<?> builder, String what) {
        Map<String, Class<?>> setters = setters(builder);
        Set<String> missing = new TreeSet<>();
        Set<String> core = new HashSet<>();
        for (Map<String, Object> k : keys) {
            String name = camel((String) k.get("name"));
            core.add(name);
            Class<?> want = type(k);
            assertNotNull(want, "unknown schema type " + k.get("type") + " of " + k.get("name"));
            if (!setters.containsKey(name)) {
                missing.add((String) k.get("name"));
            } else {
                assertEquals(want, setters.get(name), "type of " + k.get("name"));
            }
            if ("object".equals(k.get("type"))) {
                Object props = k.get("properties");
                assertTrue(props instanceof List && !((List<?>) props).isEmpty(), k.get("name") + ": properties");
                Class<?> sub = null;
                for (Class<?> c : want.getDeclaredClasses()) if (c.getSimpleName().equals("Builder")) sub = c;
                assertNotNull(sub, want.getName() + ".Builder");
                checkSetters((List<Map<String, Object>>) props, sub, want.getSimpleName() + ".Builder");
            }
        }
        assertTrue(missing.isEmpty(), "core keys missing from " + what + ": " + missing);
        Set<String> stale = new TreeSet<>(setters.keySet());
        stale.removeAll(core);
        assertTrue(stale.isEmpty(), what + " setters the core does not know: " + stale);
    }

    @Test
    void secretKeysAreTheSchemas() {
        Set<String> secret = new HashSet<>();
        for (Map<String, Object> k : keys()) if (Boolean.TRUE.equals(k.get("secret"))) secret.add((String) k.get("name"));
        assertEquals(secret, CxOAuthConfig.SECRET_KEYS);
    }

    @SuppressWarnings("unchecked")
    static Object sample(Map<String, Object> k) {
        Object e = k.get("enum");
        if (e instanceof List && !((List<?>) e).isEmpty()) return ((List<?>) e).get(0);
        Object d = k.get("default");
        switch ((String) k.get("type")) {
            case "integer":
                return d != null ? d : (k.get("minimum") != null ? k.get("minimum") : 1L);
            case "number":
                return d != null ? d : (k.get("minimum") != null ? k.get("minimum") : 0.5);
            case "boolean": return Boolean.TRUE;
            case "object": {
                // the object's builder, every sub-key set to its sample, through the typed setters
                try {
                    Class<?> type = type(k);
                    Object b = type.getMethod("builder").invoke(null);
                    for (Map<String, Object> f : (List<Map<String, Object>>) k.get("properties")) {
                        b.getClass().getMethod(camel((String) f.get("name")), type(f)).invoke(b, sample(f));
                    }
                    return b.getClass().getMethod("build").invoke(b);
                } catch (ReflectiveOperationException ex) {
                    throw new AssertionError(String.valueOf(k.get("name")), ex);
                }
            }
            default: return "sample-" + k.get("name");
        }
    }

    /** What {@code sample(k)} becomes in the JSON (an object: the map of its sub-keys). */
    @SuppressWarnings("unchecked")
    static Object json(Map<String, Object> k, Object sample) throws ReflectiveOperationException {
        if (!"object".equals(k.get("type"))) return sample;
        Map<String, Object> m = (Map<String, Object>) sample.getClass().getMethod("toMap").invoke(sample);
        assertEquals(((List<?>) k.get("properties")).size(), m.size(), k.get("name") + ": every sub-key set");
        return m;
    }

    @Test
    void everySetterReachesTheLibraryJson() throws Exception {
        for (Map<String, Object> k : keys()) {
            String key = (String) k.get("name");
            Object value = sample(k);
            Method m = CxOAuthConfig.Builder.class.getMethod(camel(key), type(k));
            CxOAuthConfig cfg = ((CxOAuthConfig.Builder) m.invoke(CxOAuthConfig.builder(), value)).build();
            assertEquals(Map.of(key, json(k, value)), Json.parse(cfg.toJson()), key);
            if (CxOAuthConfig.SECRET_KEYS.contains(key)) {
                assertFalse(cfg.toString().contains(value.toString()), key + " shown by toString");
            }
            if ("integer".equals(k.get("type"))) {
                Method mi = CxOAuthConfig.Builder.class.getMethod(camel(key), int.class);
                CxOAuthConfig c2 = ((CxOAuthConfig.Builder) mi.invoke(CxOAuthConfig.builder(),
                        ((Long) value).intValue())).build();
                assertEquals(cfg.toMap(), c2.toMap(), key);
            }
        }
        // null unsets; set() reaches keys newer than the binding
        CxOAuthConfig c = CxOAuthConfig.builder().scope("a").scope(null).set("future_key", 3).build();
        assertEquals(Map.of("future_key", 3), c.toMap());
    }

    @Test
    void theCoreAcceptsEveryIntegerNumberAndBooleanKeyAtItsDefault(Sim sim) {
        CxOAuthConfig.Builder b = CxOAuthConfig.builder();
        Set<String> set = new HashSet<>();
        for (Map<String, Object> k : keys()) {
            Object d = k.get("default");
            if (d != null && Set.of("integer", "number", "boolean").contains(k.get("type"))) {
                b.set((String) k.get("name"), d);
                set.add((String) k.get("name"));
            }
        }
        assertTrue(set.contains("timeout_ms") && set.contains("retry_non_idempotent"));
        assertTrue(set.contains("refresh_at_fraction") && set.contains("rate_limit_pacing"));
        sim.config().forEach((k, v) -> { if (!set.contains(k)) b.set(k, v); });
        try (CxOAuthClient c = CxOAuthClient.create(b.build())) {
            assertFalse(c.token().isEmpty());
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void theCoreAcceptsTheNumberAndObjectKeysTyped(Sim sim) {
        CxOAuthConfig.Builder b = CxOAuthConfig.builder();
        sim.config().forEach((k, v) -> { if (!k.equals("token_url") && !k.equals("api_base")) b.set(k, v); });
        CxOAuthConfig cfg = b.refreshAtFraction(0.75).tokenIdleTimeoutS(600).rateLimitPacing(false)
                .gateway(CxOAuthConfig.Gateway.builder().host("127.0.0.1").protocol("http").port(sim.port).build())
                .build();
        Map<String, Object> doc = (Map<String, Object>) Json.parse(cfg.toJson());
        assertEquals(0.75, doc.get("refresh_at_fraction"));
        assertEquals(Map.of("host", "127.0.0.1", "protocol", "http", "port", (long) sim.port), doc.get("gateway"));
        try (CxOAuthClient c = CxOAuthClient.create(cfg)) {
            assertFalse(c.token().isEmpty());
            assertEquals(200, c.request("GET", "/api/v2/organizations/me", Map.of(), null).status());
        }
        CxOAuthException e = assertThrows(CxOAuthException.class, () -> CxOAuthClient.create(
                CxOAuthConfig.builder().setAll(sim.config()).refreshAtFraction(0.99).build()));
        assertTrue(e instanceof ConfigException && e.getMessage().contains("refresh_at_fraction"), e.getMessage());
        assertTrue(CxOAuthConfig.builder().clientKeyPem("-----BEGIN PRIVATE KEY-----Canary").build()
                .toString().indexOf("Canary") < 0);
    }

    /** Runs openssl in {@code dir} (the key files some enum values need). */
    private static void openssl(java.nio.file.Path dir, String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>();
        cmd.add("openssl");
        cmd.addAll(java.util.Arrays.asList(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }

    @Test
    void theCoreAcceptsEveryEnumValue(Sim sim) throws Exception {
        java.nio.file.Path keys = java.nio.file.Files.createTempDirectory("cxoauth-keys");
        openssl(keys, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem");
        openssl(keys, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem");
        openssl(keys, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-days", "2", "-subj", "/CN=cxoauth java", "-keyout", "client.key", "-out", "client.pem");
        Map<String, Object> cxone = Map.of("platform", "cxone", "issuer", sim.base, "client_id", "a",
                "client_secret", "b", "access_key_id", "k", "access_key_secret", "s");
        for (Map<String, Object> k : keys()) {
            if (!(k.get("enum") instanceof List)) continue;
            String key = (String) k.get("name");
            for (Object value : (List<?>) k.get("enum")) {
                CxOAuthConfig.Builder b = CxOAuthConfig.builder();
                if (key.equals("platform")) {
                    b.setAll(value.equals("cxone") ? cxone : sim.config());
                } else if (key.equals("cxone_grant")) {
                    b.setAll(cxone);
                    if (value.equals("access_key_legacy")) b.cxoneArea("na1");
                } else {
                    b.setAll(sim.config());
                }
                b.set(key, value);
                if (key.equals("platform") && value.equals("generic")) b.set("token_url", sim.base + "/oauth/token");
                // the key-based client authentications and the assertion algs need their keys
                if (key.equals("client_auth") && value.equals("private_key_jwt"))
                    b.clientAssertionKeyFile(keys.resolve("rsa.pem").toString());
                if (key.equals("client_auth") && value.equals("tls_client_auth")) {
                    b.clientCertFile(keys.resolve("client.pem").toString());
                    b.clientKeyFile(keys.resolve("client.key").toString());
                }
                if (key.equals("client_assertion_alg"))
                    b.clientAssertionKeyFile(keys.resolve(value.equals("ES256") ? "ec.pem" : "rsa.pem").toString());
                CxOAuthClient.create(b.build()).close();
            }
        }
    }
}
