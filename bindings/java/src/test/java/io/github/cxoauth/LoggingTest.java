package io.github.cxoauth;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.*;

/** The library's lines on System.Logger "cxoauth" (here backed by java.util.logging, the
 * default LoggerFinder): levels mapped, and never a secret or a token in any record. */
@ExtendWith(Sim.class)
class LoggingTest {
    private final Logger jul = Logger.getLogger("cxoauth");
    private final List<LogRecord> records = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (records) {
                records.add(r);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };
    private Level saved;

    @BeforeEach
    void capture() {
        saved = jul.getLevel();
        jul.setLevel(Level.ALL);
        jul.addHandler(handler);
        jul.setUseParentHandlers(false);
    }

    @AfterEach
    void restore() {
        jul.removeHandler(handler);
        jul.setUseParentHandlers(true);
        jul.setLevel(saved);
        CxOAuth.setNativeLogLevel(System.Logger.Level.DEBUG);
    }

    List<LogRecord> snapshot() {
        synchronized (records) {
            return new ArrayList<>(records);
        }
    }

    List<LogRecord> waitFor(java.util.function.Predicate<LogRecord> p, String what) throws InterruptedException {
        Sim.waitFor(() -> snapshot().stream().anyMatch(p), what, 5_000);
        return snapshot().stream().filter(p).collect(java.util.stream.Collectors.toList());
    }

    @Test
    void linesReachTheLoggerWithMappedLevelsAndNoSecretOrToken(Sim sim) throws Exception {
        List<String> tokens = new ArrayList<>();
        sim.fault("api", 1, Map.of("kind", "status", "status", 503));
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            tokens.add(c.token());
            assertEquals(200, c.request("GET", "/api/v2/echo", null, null).status()); // a retry after the 503
            sim.admin("POST", "revoke", null);
            assertEquals(200, c.request("GET", "/api/v2/echo", null, null).status()); // 401 -> new token
            tokens.add(c.token());
        }
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("client_secret", "Wr0ngSecretValue")))) {
            assertThrows(AuthException.class, c::token);
        }
        List<LogRecord> fetched = waitFor(r -> r.getMessage().contains("token fetched"), "a 'token fetched' line");
        assertEquals(Level.INFO, fetched.get(0).getLevel());
        List<LogRecord> retry = waitFor(r -> r.getMessage().contains("retry"), "a retry line");
        assertEquals(Level.INFO, retry.get(0).getLevel());
        waitFor(r -> r.getLevel().intValue() >= Level.WARNING.intValue(), "a warning or error for the failed fetch");
        for (LogRecord r : snapshot()) {
            assertEquals("cxoauth", r.getLoggerName());
            String m = r.getMessage();
            if (m.contains(Sim.SECRET) || m.contains("Wr0ngSecretValue")) fail("a secret in a log record");
            for (String t : tokens) if (m.contains(t)) fail("a token in a log record");
            assertTrue(List.of(Level.FINE, Level.INFO, Level.WARNING, Level.SEVERE).contains(r.getLevel()), r.getLevel().toString());
        }
    }

    @Test
    void levelMappingAndNativeLevel(Sim sim) throws Exception {
        assertEquals(System.Logger.Level.ERROR, NativeLog.level(1));
        assertEquals(System.Logger.Level.WARNING, NativeLog.level(2));
        assertEquals(System.Logger.Level.INFO, NativeLog.level(3));
        assertEquals(System.Logger.Level.DEBUG, NativeLog.level(4));
        // The logger's own level filters ...
        jul.setLevel(Level.WARNING);
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            c.token();
        }
        assertTrue(snapshot().stream().noneMatch(r -> r.getLevel().intValue() < Level.WARNING.intValue()));
        // ... and the native side can be turned off: a failed fetch (an error line) then
        // reaches no handler. The line is written before the call returns its error.
        jul.setLevel(Level.ALL);
        CxOAuth.setNativeLogLevel(System.Logger.Level.OFF);
        try (CxOAuthClient c = CxOAuthClient.create(sim.config(Map.of("client_secret", "Wr0ngSecretValue")))) {
            assertThrows(AuthException.class, c::token);
        }
        assertTrue(snapshot().isEmpty(), snapshot().size() + " records");
        CxOAuth.setNativeLogLevel(System.Logger.Level.DEBUG);
        try (CxOAuthClient c = CxOAuthClient.create(sim.config())) {
            c.token();
        }
        waitFor(r -> r.getMessage().contains("token fetched"), "lines again");
    }
}
