// cxoauth Java example: a token, GET /api/v2/organizations/me with the client's own request(),
// the same through java.net.http with BearerHttpClient (when the API base is configured),
// three requests at once with requestAsync, and the client's stats.
//
// Build the jar (it carries libcxoauth.so): bindings/java/run-tests.sh, or
//   cp target/debug/libcxoauth.so bindings/java/target/generated-resources/native/linux-x86-64/
//   mvn -B -f bindings/java/pom.xml package
// Run, with nothing installed but a JDK 17+ (the source-file launcher compiles this file):
//   java -cp cxoauth-0.2.0.jar:jna-5.19.1.jar examples/java/App.java
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID,
// GENESYSCLOUD_OAUTHCLIENT_SECRET, GENESYSCLOUD_REGION). CXOAUTH_LOG=debug shows the
// library's log lines (System.Logger "cxoauth", java.util.logging by default).
// Never prints the token or the secret.

import io.github.cxoauth.BearerHttpClient;
import io.github.cxoauth.CxOAuth;
import io.github.cxoauth.CxOAuthClient;
import io.github.cxoauth.CxOAuthException;
import io.github.cxoauth.Response;
import io.github.cxoauth.Token;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;

public class App {
    public static void main(String[] args) throws Exception {
        String log = System.getenv("CXOAUTH_LOG");
        if (log != null && !log.isEmpty()) {
            Logger jul = Logger.getLogger("cxoauth");
            Level level = log.equalsIgnoreCase("debug") ? Level.FINE : Level.parse(log.toUpperCase());
            ConsoleHandler h = new ConsoleHandler();
            h.setLevel(level);
            jul.setLevel(level);
            jul.addHandler(h);
            jul.setUseParentHandlers(false);
        }
        System.exit(run(System.getenv("CXOAUTH_CONFIG")));
    }

    static int run(String config) throws Exception {
        try (CxOAuthClient client = CxOAuthClient.create(config)) {
            System.out.println("cxoauth " + CxOAuth.version() + " (" + CxOAuth.libraryPath() + ")");
            Token tok = client.tokenEx();
            System.out.println("token: " + tok.value().length() + " chars, expires " + tok.expiresAt());
            Response r = client.request("GET", "/api/v2/organizations/me", Map.of("Accept", "application/json"), null);
            String corr = r.header("ININ-Correlation-Id");
            System.out.println("GET /api/v2/organizations/me -> HTTP " + r.status() + " (correlation id "
                    + (corr == null ? "-" : corr) + ", " + r.headerValues("Set-Cookie").size() + " Set-Cookie headers)");
            System.out.println(r.bodyString());
            if (r.status() != 200) return 1;

            if (client.apiBase() != null) {
                HttpClient http = new BearerHttpClient(client, HttpClient.newBuilder()
                        .connectTimeout(Duration.ofSeconds(10)).build());
                HttpResponse<String> hr = http.send(HttpRequest.newBuilder(
                                URI.create(client.apiBase().replaceAll("/+$", "") + "/api/v2/organizations/me"))
                        .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
                System.out.println("java.net.http + BearerHttpClient -> HTTP " + hr.statusCode());
                if (hr.statusCode() != 200) return 1;
            }

            List<CompletableFuture<Response>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) fs.add(client.requestAsync("GET", "/api/v2/organizations/me", null, null));
            CompletableFuture.allOf(fs.toArray(new CompletableFuture<?>[0])).join();
            StringBuilder statuses = new StringBuilder();
            boolean ok = true;
            for (CompletableFuture<Response> f : fs) {
                int s = f.join().status();
                ok &= s == 200;
                statuses.append(statuses.length() == 0 ? "" : ", ").append("HTTP ").append(s);
            }
            System.out.println("requestAsync: 3 concurrent requests -> " + statuses);
            System.out.println("stats: " + client.statsJson());
            return ok ? 0 : 1;
        } catch (CxOAuthException e) {
            System.err.println("failed: " + e.getMessage() + " (code " + e.code() + ", HTTP " + e.httpStatus()
                    + ", oauth " + e.oauthCode() + ")");
            return 1;
        }
    }
}
