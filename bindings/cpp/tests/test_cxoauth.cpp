// GoogleTest suite of the C++ wrapper against the cxoauth simulator.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "cxoauth.hpp"
#include "sim.hpp"

namespace {

Sim g_sim;

class SimEnvironment : public ::testing::Environment {
public:
    void SetUp() override { g_sim.start(); }
    void TearDown() override { g_sim.stop(); }
};

class CxOAuth : public ::testing::Test {
protected:
    void SetUp() override { g_sim.reset(); }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_F(CxOAuth, TokenIsCachedAndReused) {
    cxoauth::Client c(g_sim.config());
    std::string t1 = c.token(), t2 = c.token();
    EXPECT_EQ(t1, t2);
    EXPECT_GT(t1.size(), 10u);
    EXPECT_EQ(g_sim.counter("token_requests"), 1);
    EXPECT_FALSE(cxoauth::version().empty());
}

TEST_F(CxOAuth, RequestWithHeadersAndBody) {
    cxoauth::Client c(g_sim.config());
    auto r = c.request("PUT", "/api/v2/echo/x?y=1", {{"X-Custom", "hello"}}, "ping");
    EXPECT_EQ(r.status(), 200);
    EXPECT_NE(r.body().find("\"x-custom\":\"hello\""), std::string_view::npos);
    EXPECT_NE(r.body().find("\"body\":\"ping\""), std::string_view::npos);
    ASSERT_TRUE(r.header("content-type").has_value());
    EXPECT_TRUE(r.header("ININ-Correlation-Id").has_value());
    EXPECT_FALSE(r.header("X-Absent").has_value());
}

TEST_F(CxOAuth, ApiErrorIsAResponse) {
    cxoauth::Client c(g_sim.config());
    auto r = c.request("GET", "/api/v2/users/me");
    EXPECT_EQ(r.status(), 400);
    EXPECT_NE(r.body().find("bad.request"), std::string_view::npos);
}

TEST_F(CxOAuth, InvalidClientThrowsAuthError) {
    cxoauth::Client c(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    try {
        c.token();
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.code(), cxoauth::ResultCode::Auth);
        EXPECT_EQ(e.http_status(), 401);
        EXPECT_EQ(e.oauth_code().value_or(""), "invalid_client");
        EXPECT_EQ(std::string(e.what()).find("Wr0ngSecretValue"), std::string::npos);
    }
}

TEST_F(CxOAuth, BadConfigThrowsConfigError) {
    try {
        cxoauth::Client c(R"({"regoin":"eu-west-1"})");
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.code(), cxoauth::ResultCode::Config);
        EXPECT_NE(std::string(e.what()).find("regoin"), std::string::npos);
    }
}

TEST_F(CxOAuth, RetryAfterIsHonoured) {
    cxoauth::Client c(g_sim.config());
    c.token();
    g_sim.fault(R"({"target":"api","action":{"kind":"status","status":429,"retry_after":"1"}})");
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(c.request("GET", "/api/v2/organizations/me").status(), 200);
    EXPECT_GE(seconds_since(t0), 1.0);
    EXPECT_EQ(g_sim.counter("api_requests"), 2);
}

TEST_F(CxOAuth, SixteenThreadsShareOneTokenRequest) {
    g_sim.fault(R"({"target":"token","action":{"kind":"delay","ms":300}})");
    cxoauth::Client c(g_sim.config());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; i++)
        threads.emplace_back([&] {
            if (!c.token().empty() && c.request("GET", "/api/v2/echo").status() == 200) ok++;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 16);
    EXPECT_EQ(g_sim.counter("token_requests"), 1);
}

TEST_F(CxOAuth, CancelTokenAbortsCallFromAnotherThread) {
    cxoauth::Client c(g_sim.config());
    c.token();
    g_sim.fault(R"({"target":"api","action":{"kind":"delay","ms":5000}})");
    cxoauth::CancelToken tok;
    std::optional<cxoauth::ResultCode> code;
    std::thread t([&] {
        try {
            c.request(tok, "GET", "/api/v2/echo");
        } catch (const cxoauth::Error& e) {
            code = e.code();
        }
    });
    while (g_sim.counter("api_requests") < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto t0 = std::chrono::steady_clock::now();
    tok.cancel();
    t.join();
    EXPECT_LT(seconds_since(t0), 0.5);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, cxoauth::ResultCode::Cancelled);
    EXPECT_THROW(c.token(tok), cxoauth::Error);
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
}

TEST_F(CxOAuth, MovedFromObjectsAreSafe) {
    cxoauth::Client a(g_sim.config());
    cxoauth::Client b(std::move(a));
    EXPECT_EQ(b.request("GET", "/api/v2/echo").status(), 200);
    // a moved-from client reports an error instead of crashing
    EXPECT_THROW(a.token(), cxoauth::Error);  // NOLINT(bugprone-use-after-move)
    cxoauth::Response r1 = b.request("GET", "/api/v2/echo");
    cxoauth::Response r2 = std::move(r1);
    EXPECT_EQ(r2.status(), 200);
    EXPECT_EQ(r1.status(), 0);  // NOLINT(bugprone-use-after-move)
    cxoauth::CancelToken t1;
    cxoauth::CancelToken t2 = std::move(t1);
    t1.cancel();  // no-op on a moved-from token  NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.token(t2).empty(), false);
}

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new SimEnvironment);
    return RUN_ALL_TESTS();
}
