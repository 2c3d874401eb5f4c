// cxoauth C++ example: token, then GET /api/v2/organizations/me.
// Config: JSON in CXOAUTH_CONFIG, else the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
#include <cstdlib>
#include <iostream>

#include "cxoauth.hpp"

int main() {
    try {
        const char* config = std::getenv("CXOAUTH_CONFIG");
        cxoauth::Client client = config ? cxoauth::Client(config) : cxoauth::Client::from_env();
        std::string token = client.token();
        std::cout << "cxoauth " << cxoauth::version() << "\n";
        std::cout << "token: " << token.substr(0, 6) << "... (" << token.size() << " chars)\n";
        cxoauth::Response r =
            client.request("GET", "/api/v2/organizations/me", {{"Accept", "application/json"}});
        std::cout << "GET /api/v2/organizations/me -> HTTP " << r.status() << " (correlation id "
                  << r.header("ININ-Correlation-Id").value_or("-") << ")\n"
                  << r.body() << "\n";
        return r.status() == 200 ? 0 : 1;
    } catch (const cxoauth::Error& e) {
        std::cerr << "failed: " << e.what() << " (code " << static_cast<unsigned>(e.code())
                  << ", HTTP " << e.http_status() << ")\n";
        return 1;
    }
}
