// cxoauth C++ example: token, then GET /api/v2/organizations/me.
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "cxoauth.hpp"

int main() {
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
        return again->status() == 200 ? 0 : 1;
    } catch (const cxoauth::Error& e) {
        std::cerr << "failed: " << e.what() << " (code " << static_cast<unsigned>(e.code())
                  << ", HTTP " << e.http_status() << ")\n";
        return 1;
    }
}
