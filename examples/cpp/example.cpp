// cxoauth C++ example: token, then GET /api/v2/organizations/me (blocking, as a std::future
// and with a callback), with the library's warnings and errors on stderr and its counters.
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>

#include "cxoauth.hpp"

int main() {
    // Process-wide: the library's log lines (never a secret or a token).
    (void)cxoauth::set_log_sink(
        [](cxoauth::LogLevel level, std::string_view line) {
            std::cerr << "cxoauth[" << static_cast<unsigned>(level) << "] " << line << "\n";
        },
        cxoauth::LogLevel::Warn);
    try {
        const char* config = std::getenv("CXOAUTH_CONFIG");
        cxoauth::Client client = config ? cxoauth::Client(config) : cxoauth::Client::from_env();
        cxoauth::Token token = client.token_ex();
        auto left = std::chrono::duration_cast<std::chrono::seconds>(
            token.expires - std::chrono::system_clock::now());
        std::cout << "cxoauth " << cxoauth::version() << "\n";
        std::cout << "token: " << token.value.substr(0, 6) << "... (" << token.value.size()
                  << " chars, expires in " << left.count() << " s)\n";
        cxoauth::Response r =
            client.request("GET", "/api/v2/organizations/me", {{"Accept", "application/json"}});
        std::cout << "GET /api/v2/organizations/me -> HTTP " << r.status() << " (correlation id "
                  << r.header("ININ-Correlation-Id").value_or("-") << ")\n"
                  << r.body() << "\n";
        for (const auto& [name, value] : r.headers())  // repeated names (set-cookie) kept apart
            if (name == "set-cookie") std::cout << "set-cookie: " << value.substr(0, 20) << "...\n";
        if (r.status() != 200) return 1;
        // The same without exceptions: a Result holds the value or the Failure.
        auto again = client.try_request("GET", "/api/v2/organizations/me");
        if (!again) {
            std::cerr << "failed: " << again.error().message << "\n";
            return 1;
        }
        if (again->status() != 200) return 1;
        // Asynchronous: no thread per call; the library's completion thread reports.
        std::future<cxoauth::Response> f = client.request_async("GET", "/api/v2/organizations/me");
        std::promise<int> status;
        auto started = client.request_async("GET", "/api/v2/organizations/me", {}, {},
                                            [&](cxoauth::Result<cxoauth::Response> r) {
                                                status.set_value(r ? r->status() : -1);
                                            });
        if (!started) return 1;  // refused: the callback is never called
        int s1 = f.get().status(), s2 = status.get_future().get();
        cxoauth::Stats st = client.stats();
        std::cout << "async -> " << s1 << ", " << s2 << "; stats: " << st.token_fetches
                  << " token fetch(es), " << st.requests << " request(s)\n";
        (void)cxoauth::set_log_sink(nullptr);
        return s1 == 200 && s2 == 200 ? 0 : 1;
    } catch (const cxoauth::Error& e) {
        std::cerr << "failed: " << e.what() << " (code " << static_cast<unsigned>(e.code())
                  << ", HTTP " << e.http_status() << ")\n";
        return 1;
    }
}
