package io.github.cxoauth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * After {@code mvn package}: the built jar from a plain {@code java -cp cxoauth.jar:jna.jar}
 * (examples/java/App.java through the source-file launcher), copied to a directory of its own,
 * with no LD_LIBRARY_PATH, no CXOAUTH_LIBRARY, no jna.library.path and {@code -Djna.nosys=true}:
 * the library must come from the jar. Then the overrides: CXOAUTH_LIBRARY and jna.library.path.
 */
@ExtendWith(Sim.class)
class PlainClasspathIT {

    record Run(int exit, String out) {}

    static Run run(Path dir, Map<String, String> env, List<String> extra, String config) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-Djna.nosys=true"));
        cmd.addAll(extra);
        cmd.addAll(List.of("-cp", "cxoauth.jar" + File.pathSeparator + "jna.jar", "App.java"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        Map<String, String> e = pb.environment();
        for (String k : List.of("LD_LIBRARY_PATH", "CXOAUTH_LIBRARY", "CLASSPATH", "JAVA_TOOL_OPTIONS",
                "GENESYSCLOUD_OAUTHCLIENT_ID", "GENESYSCLOUD_OAUTHCLIENT_SECRET", "GENESYSCLOUD_REGION")) {
            e.remove(k);
        }
        e.put("CXOAUTH_CONFIG", config);
        e.putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    @Test
    void theJarCarriesTheLibraryAndTheExampleRuns(Sim sim) throws Exception {
        Path jar = Path.of(System.getProperty("cxoauth.jar"));
        Path libDir = Path.of(System.getProperty("cxoauth.lib.dir"));
        Path example = Path.of(System.getProperty("cxoauth.example"));
        assertTrue(Files.isRegularFile(jar), jar.toString());
        Path jna;
        try (var s = Files.list(libDir)) {
            jna = s.filter(f -> f.getFileName().toString().matches("jna-5\\..*\\.jar")).findFirst().orElseThrow();
        }
        try (var zip = new java.util.zip.ZipFile(jar.toFile())) {
            assertNotNull(zip.getEntry(com.sun.jna.Platform.RESOURCE_PREFIX + "/libcxoauth.so"),
                    "the jar does not carry " + com.sun.jna.Platform.RESOURCE_PREFIX + "/libcxoauth.so");
        }
        Path dir = Files.createTempDirectory("cxoauth-plain-cp");
        try {
            Files.copy(jar, dir.resolve("cxoauth.jar"));
            Files.copy(jna, dir.resolve("jna.jar"));
            Files.copy(example, dir.resolve("App.java"));
            String config = "{\"token_url\":\"" + sim.base + "/oauth/token\",\"api_base\":\"" + sim.base
                    + "\",\"client_id\":\"demo-client\",\"client_secret\":\"demo-secret\"}";

            Run r = run(dir, Map.of(), List.of(), config);
            System.out.println("--- java -Djna.nosys=true -cp cxoauth.jar:jna.jar App.java\n" + r.out());
            assertEquals(0, r.exit(), r.out());
            assertTrue(r.out().contains("(the jar (" + com.sun.jna.Platform.RESOURCE_PREFIX + "/libcxoauth.so))"), r.out());
            assertTrue(r.out().contains("GET /api/v2/organizations/me -> HTTP 200"), r.out());
            assertTrue(r.out().contains("java.net.http + BearerHttpClient -> HTTP 200"), r.out());
            assertTrue(r.out().contains("requestAsync: 3 concurrent requests -> HTTP 200, HTTP 200, HTTP 200"), r.out());
            assertFalse(r.out().contains("demo-secret"));

            // CXOAUTH_LIBRARY overrides the jar's copy
            Path own = dir.resolve("own");
            Files.createDirectories(own);
            try (var in = new java.util.zip.ZipFile(jar.toFile())) {
                Files.copy(in.getInputStream(in.getEntry(com.sun.jna.Platform.RESOURCE_PREFIX + "/libcxoauth.so")),
                        own.resolve("libcxoauth.so"), StandardCopyOption.REPLACE_EXISTING);
            }
            r = run(dir, Map.of("CXOAUTH_LIBRARY", own.resolve("libcxoauth.so").toString()), List.of(), config);
            assertEquals(0, r.exit(), r.out());
            assertTrue(r.out().contains(own.resolve("libcxoauth.so") + " (CXOAUTH_LIBRARY)"), r.out());
            // so does jna.library.path
            r = run(dir, Map.of(), List.of("-Djna.library.path=" + own), config);
            assertEquals(0, r.exit(), r.out());
            assertTrue(r.out().contains(own.resolve("libcxoauth.so") + " (jna.library.path)"), r.out());
            // a wrong CXOAUTH_LIBRARY is an error naming it, not a silent fallback
            r = run(dir, Map.of("CXOAUTH_LIBRARY", own.resolve("nope.so").toString()), List.of(), config);
            assertNotEquals(0, r.exit());
            assertTrue(r.out().contains("nope.so"), r.out());
        } finally {
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
