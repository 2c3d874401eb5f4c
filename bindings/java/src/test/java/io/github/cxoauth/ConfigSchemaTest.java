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
            "string", String.class, "integer", Long.class, "boolean", Boolean.class);
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
        Map<String, Class<?>> m = new HashMap<>();
        for (Method meth : CxOAuthConfig.Builder.class.getDeclaredMethods()) {
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
        Map<String, Class<?>> setters = setters();
        Set<String> missing = new TreeSet<>();
        Set<String> core = new HashSet<>();
        for (Map<String, Object> k : keys()) {
            String name = camel((String) k.get("name"));
            core.add(name);
            Class<?> want = TYPES.get((String) k.get("type"));
            assertNotNull(want, "unknown schema type " + k.get("type"));
            if (!setters.containsKey(name)) {
                missing.add((String) k.get("name"));
            } else {
                assertEquals(want, setters.get(name), "type of " + k.get("name"));
            }
        }
        assertTrue(missing.isEmpty(), "core keys missing from CxOAuthConfig.Builder: " + missing);
        Set<String> stale = new TreeSet<>(setters.keySet());
        stale.removeAll(core);
        assertTrue(stale.isEmpty(), "CxOAuthConfig.Builder setters the core does not know: " + stale);
    }

    @Test
    void secretKeysAreTheSchemas() {
        Set<String> secret = new HashSet<>();
        for (Map<String, Object> k : keys()) if (Boolean.TRUE.equals(k.get("secret"))) secret.add((String) k.get("name"));
        assertEquals(secret, CxOAuthConfig.SECRET_KEYS);
    }

    static Object sample(Map<String, Object> k) {
        Object e = k.get("enum");
        if (e instanceof List && !((List<?>) e).isEmpty()) return ((List<?>) e).get(0);
        switch ((String) k.get("type")) {
            case "integer":
                Object d = k.get("default");
                return d != null ? d : (k.get("minimum") != null ? k.get("minimum") : 1L);
            case "boolean": return Boolean.TRUE;
            default: return "sample-" + k.get("name");
        }
    }

    @Test
    void everySetterReachesTheLibraryJson() throws Exception {
        for (Map<String, Object> k : keys()) {
            String key = (String) k.get("name");
            Object value = sample(k);
            Method m = CxOAuthConfig.Builder.class.getMethod(camel(key), TYPES.get((String) k.get("type")));
            CxOAuthConfig cfg = ((CxOAuthConfig.Builder) m.invoke(CxOAuthConfig.builder(), value)).build();
            assertEquals(Map.of(key, value), Json.parse(cfg.toJson()), key);
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
    void theCoreAcceptsEveryIntegerAndBooleanKeyAtItsDefault(Sim sim) {
        CxOAuthConfig.Builder b = CxOAuthConfig.builder();
        Set<String> set = new HashSet<>();
        for (Map<String, Object> k : keys()) {
            Object d = k.get("default");
            if (d != null && ("integer".equals(k.get("type")) || "boolean".equals(k.get("type")))) {
                b.set((String) k.get("name"), d);
                set.add((String) k.get("name"));
            }
        }
        assertTrue(set.contains("timeout_ms") && set.contains("retry_non_idempotent"));
        sim.config().forEach((k, v) -> { if (!set.contains(k)) b.set(k, v); });
        try (CxOAuthClient c = CxOAuthClient.create(b.build())) {
            assertFalse(c.token().isEmpty());
        }
    }

    @Test
    void theCoreAcceptsEveryEnumValue(Sim sim) {
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
                CxOAuthClient.create(b.build()).close();
            }
        }
    }
}
