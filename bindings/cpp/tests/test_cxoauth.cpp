// GoogleTest suite of the C++ wrapper against the cxoauth simulator.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "cxoauth.hpp"
#include "sim_gtest.hpp"

namespace {

class CxOAuth : public SimTest {};

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
        (void)c.token();
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
    (void)c.token();
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
    (void)c.token();
    g_sim.fault(R"({"target":"api","action":{"kind":"delay","ms":5000}})");
    cxoauth::CancelToken tok;
    std::optional<cxoauth::ResultCode> code;
    std::thread t([&] {
        try {
            (void)c.request(tok, "GET", "/api/v2/echo");
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
    a.close();  // no-op on a moved-from client  NOLINT(bugprone-use-after-move)
    EXPECT_EQ(a.native(), nullptr);
}

std::optional<cxoauth::ResultCode> code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const cxoauth::Error& e) {
        return e.code();
    }
    return std::nullopt;
}

void wait_for_counter(const char* name, long n) {
    auto t0 = std::chrono::steady_clock::now();
    while (g_sim.counter(name) < n) {
        ASSERT_LT(seconds_since(t0), 10.0) << "waiting for " << name;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

TEST_F(CxOAuth, HeadersKeepRepeatedNamesApartInOrder) {
    cxoauth::Client c(g_sim.config());
    auto r = c.request("GET", "/api/v2/organizations/me");
    ASSERT_EQ(r.status(), 200);
    const cxoauth::Headers all = r.headers();
    std::vector<std::string> cookies;
    for (const auto& [name, value] : all)
        if (name == "set-cookie") cookies.push_back(value);
    ASSERT_EQ(cookies.size(), 2u);
    EXPECT_EQ(cookies[0].rfind("AWSALB=", 0), 0u);
    EXPECT_EQ(cookies[1].rfind("AWSALBCORS=", 0), 0u);
    EXPECT_NE(cookies[0].find("Expires="), std::string::npos);  // the date's comma kept inside
    EXPECT_EQ(r.header_values("Set-Cookie"), cookies);
    EXPECT_EQ(std::string(r.header("SET-COOKIE").value_or("")), cookies[0]);  // the first
    EXPECT_GE(all.size(), 5u);
    EXPECT_TRUE(r.header_values("X-Absent").empty());
    cxoauth::Response moved = std::move(r);
    EXPECT_TRUE(r.headers().empty());  // NOLINT(bugprone-use-after-move)
}

TEST_F(CxOAuth, TokenExHasTheServersExpiry) {
    g_sim.token_lifetime(120);
    cxoauth::Client c(g_sim.config());
    auto before = std::chrono::system_clock::now();
    cxoauth::Token t = c.token_ex();
    auto after = std::chrono::system_clock::now();
    EXPECT_EQ(t.value, c.token());
    EXPECT_GE(t.expires, before + std::chrono::seconds(119));
    EXPECT_LE(t.expires, after + std::chrono::seconds(121));
    cxoauth::CancelToken tok;
    EXPECT_EQ(c.token_ex(tok).expires, t.expires);  // cached, same expiry
    EXPECT_EQ(g_sim.counter("token_requests"), 1);
}

TEST_F(CxOAuth, InvalidateTokenIsCompareAndDrop) {
    cxoauth::Client c(g_sim.config());
    std::string t1 = c.token();
    c.invalidate_token(t1);
    std::string t2 = c.token();
    EXPECT_NE(t1, t2);
    c.invalidate_token(t1);  // an older token does nothing
    c.invalidate_token("not-a-token");
    EXPECT_EQ(c.token(), t2);
    EXPECT_EQ(g_sim.counter("token_requests"), 2);
    // after our own 401: the revoked token is dropped, the next call has a new one
    g_sim.admin("POST", "revoke");
    c.invalidate_token(t2);
    EXPECT_NE(c.token(), t2);
    EXPECT_EQ(g_sim.counter("token_requests"), 3);
    c.close();
    EXPECT_EQ(code_of([&] { c.invalidate_token(t2); }), cxoauth::ResultCode::Closed);
}

TEST_F(CxOAuth, NonThrowingVariants) {
    auto bad = cxoauth::Client::create(R"({"regoin":"eu-west-1"})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.code(), cxoauth::ResultCode::Config);
    EXPECT_NE(bad.error().message.find("regoin"), std::string::npos);
    std::error_code ec = bad.error_code();
    EXPECT_EQ(ec, cxoauth::ResultCode::Config);  // is_error_code_enum
    EXPECT_EQ(std::string(ec.category().name()), "cxoauth");
    EXPECT_EQ(ec.message(), "config");

    auto wrong = cxoauth::Client::create(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    ASSERT_TRUE(wrong);
    auto t = wrong->try_token();
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.code(), cxoauth::ResultCode::Auth);
    EXPECT_EQ(t.error().http_status, 401);
    EXPECT_EQ(t.error().oauth_code.value_or(""), "invalid_client");
    EXPECT_EQ(t.error().message.find("Wr0ngSecretValue"), std::string::npos);
    EXPECT_FALSE(wrong->try_request("GET", "/api/v2/echo").ok());

    auto c = cxoauth::Client::create(g_sim.config());
    ASSERT_TRUE(c.ok());
    auto tok = c->try_token();
    ASSERT_TRUE(tok);
    EXPECT_FALSE(tok.error_code());
    auto ex = c->try_token_ex();
    ASSERT_TRUE(ex);
    EXPECT_EQ(ex->value, *tok);
    auto r = c->try_request("PUT", "/api/v2/echo/x", {{"X-Custom", "v"}}, "ping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status(), 200);
    EXPECT_NE(r->body().find("\"body\":\"ping\""), std::string_view::npos);
    auto other = c->try_request("GET", "https://evil.example/api/v2/x");
    EXPECT_EQ(other.code(), cxoauth::ResultCode::InvalidArgument);
    EXPECT_TRUE(c->try_invalidate_token(*tok).ok());
    EXPECT_EQ(c->try_invalidate_token(std::string("a\0b", 3)).code(), cxoauth::ResultCode::InvalidArgument);
    EXPECT_FALSE(c->try_cancel());
    cxoauth::CancelToken ct;
    ct.cancel();
    EXPECT_EQ(c->try_request(ct, "GET", "/api/v2/echo").code(), cxoauth::ResultCode::Cancelled);
    EXPECT_EQ(c->try_token_ex(ct).code(), cxoauth::ResultCode::Cancelled);
    c->close();
    EXPECT_EQ(c->try_token().code(), cxoauth::ResultCode::Closed);
    EXPECT_EQ(c->try_request("GET", "/api/v2/echo").error_code(), cxoauth::ResultCode::Closed);
    // the throwing API reports the same through Error, with the same error_code
    try {
        (void)c->token();
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.error_code(), cxoauth::make_error_code(cxoauth::ResultCode::Closed));
    }
}

// A NUL inside a method, path, header name or value would end the C string there (the rest
// silently dropped): ResultCode::InvalidArgument instead, from every request variant, and
// nothing is sent.
TEST_F(CxOAuth, NulBytesAreRefusedNotTruncated) {
    using namespace std::string_literals;
    cxoauth::Client c(g_sim.config());
    (void)c.token();
    struct Case {
        std::string method, path;
        cxoauth::Headers headers;
    };
    const std::vector<Case> cases = {
        {"GET\0X"s, "/api/v2/echo", {}},
        {"GET", "/api/v2/echo\0/../x"s, {}},
        {"GET", "/api/v2/echo", {{"X-A", "v\0injected"s}}},
        {"GET", "/api/v2/echo", {{"X-A\0B"s, "v"}}},
    };
    for (const auto& k : cases) {
        auto r = c.try_request(k.method, k.path, k.headers);
        EXPECT_EQ(r.code(), cxoauth::ResultCode::InvalidArgument);
        if (!r) {
            EXPECT_NE(r.error().message.find("NUL"), std::string::npos) << r.error().message;
        }
        try {
            (void)c.request(k.method, k.path, k.headers);
            ADD_FAILURE() << "request: no exception";
        } catch (const cxoauth::Error& e) {
            EXPECT_EQ(e.code(), cxoauth::ResultCode::InvalidArgument);
        }
        try {
            (void)c.request_async(k.method, k.path, k.headers).get();
            ADD_FAILURE() << "request_async future: no exception";
        } catch (const cxoauth::Error& e) {
            EXPECT_EQ(e.code(), cxoauth::ResultCode::InvalidArgument);
        }
        // (shared: were the call accepted, done would run later, after this iteration)
        auto called = std::make_shared<std::atomic<bool>>(false);
        auto started = c.request_async(k.method, k.path, k.headers, {},
                                       [called](cxoauth::Result<cxoauth::Response>) { *called = true; });
        EXPECT_EQ(started.code(), cxoauth::ResultCode::InvalidArgument);
        EXPECT_FALSE(*called);
    }
    EXPECT_EQ(g_sim.counter("api_requests"), 0);
    // A configuration text cut at a NUL would be another configuration.
    auto bad = cxoauth::Client::create(g_sim.config() + "\0{"s);
    EXPECT_EQ(bad.code(), cxoauth::ResultCode::InvalidArgument);
    // A response header name with a NUL matches nothing (it would match the cut name).
    auto r = c.request("GET", "/api/v2/organizations/me");
    ASSERT_TRUE(r.header("content-type").has_value());
    EXPECT_FALSE(r.header("content-type\0x"s).has_value());
}

TEST_F(CxOAuth, CopiesShareOneNativeClient) {
    cxoauth::Client a(g_sim.config());
    cxoauth::Client b = a;
    EXPECT_EQ(a.native(), b.native());
    EXPECT_EQ(a.token(), b.token());
    EXPECT_EQ(g_sim.counter("token_requests"), 1);  // one cache for all copies
    cxoauth::Client c(g_sim.config());
    c = b;  // c's own native client goes, it shares a's now
    EXPECT_EQ(c.native(), a.native());
}

TEST_F(CxOAuth, CopiesUsedFromThreadsWhileOriginalIsDestroyed) {
    auto original = std::make_unique<cxoauth::Client>(g_sim.config());
    (void)original->token();
    constexpr int kThreads = 8, kCalls = 20;
    std::atomic<int> ok{0}, started{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++)
        threads.emplace_back([copy = *original, &ok, &started, &go] {  // each thread owns a copy
            started++;
            while (!go) std::this_thread::yield();
            for (int k = 0; k < kCalls; k++)
                if (copy.request("GET", "/api/v2/echo").status() == 200 && !copy.token().empty()) ok++;
        });
    while (started < kThreads) std::this_thread::yield();
    go = true;
    original.reset();  // destroyed while the copies are in calls: the native client lives on
    for (auto& t : threads) t.join();  // the last copy to go closes and frees it
    EXPECT_EQ(ok.load(), kThreads * kCalls);
    EXPECT_EQ(g_sim.counter("token_requests"), 1);
}

TEST_F(CxOAuth, CloseWhileSlowCallsRunCancelsThemAndLaterCallsAreClosed) {
    cxoauth::Client c(g_sim.config());
    (void)c.token();
    constexpr int kThreads = 3;
    g_sim.fault(R"({"target":"api","count":3,"path_prefix":"/api/v2/echo/slow","action":{"kind":"delay","ms":5000}})");
    std::vector<std::optional<cxoauth::ResultCode>> codes(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; i++)
        threads.emplace_back([copy = c, &codes, i] {
            codes[i] = code_of([&] { (void)copy.request("GET", "/api/v2/echo/slow"); });
        });
    wait_for_counter("api_requests", kThreads);
    auto t0 = std::chrono::steady_clock::now();
    c.close();
    EXPECT_LT(seconds_since(t0), 0.5);  // close() does not wait for the calls
    for (auto& t : threads) t.join();
    EXPECT_LT(seconds_since(t0), 1.0);
    for (const auto& code : codes) EXPECT_EQ(code, cxoauth::ResultCode::Cancelled);
    cxoauth::Client copy = c;  // every copy sees the closed client
    EXPECT_EQ(code_of([&] { (void)c.token(); }), cxoauth::ResultCode::Closed);
    EXPECT_EQ(code_of([&] { (void)copy.request("GET", "/api/v2/echo"); }), cxoauth::ResultCode::Closed);
    c.close();  // any number of times
    copy.close();
    EXPECT_EQ(static_cast<uint32_t>(cxoauth::ResultCode::Closed), 12u);
}

TEST_F(CxOAuth, CloseAbortsTokenRequestInFlight) {
    cxoauth::Client c(g_sim.config());
    g_sim.fault(R"({"target":"token","action":{"kind":"delay","ms":5000}})");
    std::optional<cxoauth::ResultCode> code;
    std::thread t([copy = c, &code] { code = code_of([&] { (void)copy.token(); }); });
    wait_for_counter("token_requests", 1);
    auto t0 = std::chrono::steady_clock::now();
    c.close();
    t.join();
    EXPECT_LT(seconds_since(t0), 1.0);
    EXPECT_EQ(code, cxoauth::ResultCode::Cancelled);
}

TEST_F(CxOAuth, CloseAndDestroyConcurrentWithCalls) {
    std::atomic<int> unexpected{0}, started{0};
    std::vector<std::thread> threads;
    {
        cxoauth::Client c(g_sim.config());
        (void)c.token();
        for (int i = 0; i < 8; i++)
            threads.emplace_back([copy = c, &unexpected, &started] {
                for (bool first = true;; first = false) {
                    auto code = code_of([&] { (void)copy.request("GET", "/api/v2/organizations/me"); });
                    if (first) started++;
                    if (!code) continue;
                    if (*code != cxoauth::ResultCode::Cancelled && *code != cxoauth::ResultCode::Closed)
                        unexpected++;
                    return;
                }
            });
        while (started < 8) std::this_thread::yield();
        std::thread closer([copy = c] { copy.close(); });
        c.close();
        closer.join();
    }  // the original goes while the threads may still be inside calls
    for (auto& t : threads) t.join();
    EXPECT_EQ(unexpected.load(), 0);
}

}  // namespace

int main(int argc, char** argv) { return run_all_tests_with_sim(argc, argv); }

// Per-call options (oauth_request_ex / oauth_request_async_ex), counted by the simulator.
TEST_F(CxOAuth, CallOptionsTakeEffect) {
    cxoauth::Client c(g_sim.config("\"max_retries\":3"));
    (void)c.token();
    g_sim.fault(R"({"target":"api","count":2,"action":{"kind":"status","status":503}})");
    cxoauth::CallOptions no_retry;
    no_retry.max_retries = 0;
    EXPECT_EQ(no_retry.to_json(), R"({"max_retries":0})");
    long before = g_sim.counter("api_requests");
    EXPECT_EQ(c.request("GET", "/api/v2/echo", {}, {}, no_retry).status(), 503);
    EXPECT_EQ(g_sim.counter("api_requests") - before, 1);
    // idempotent: a POST retried after the second 503, through the future
    cxoauth::CallOptions idem;
    idem.idempotent = true;
    idem.deadline = std::chrono::seconds(10);
    before = g_sim.counter("api_requests");
    EXPECT_EQ(c.request_async("POST", "/api/v2/echo", {}, "{}", idem).get().status(), 200);
    EXPECT_EQ(g_sim.counter("api_requests") - before, 2);
    // resend_after_401 false: the 401, no new token
    g_sim.admin("POST", "revoke", "{}");
    long tokens = g_sim.counter("token_requests");
    cxoauth::CallOptions keep;
    keep.resend_after_401 = false;
    keep.pacing = cxoauth::CallOptions::Pacing::FailFast;
    keep.timeout = std::chrono::milliseconds(5000);
    EXPECT_EQ(c.request("GET", "/api/v2/echo", {}, {}, keep).status(), 401);
    EXPECT_EQ(g_sim.counter("token_requests"), tokens);
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    EXPECT_EQ(g_sim.counter("token_requests"), tokens + 1);
}

TEST_F(CxOAuth, BadCallOptionIsInvalidArgumentNamingIt) {
    cxoauth::Client c(g_sim.config());
    cxoauth::CallOptions bad;
    bad.max_retries = 101;
    auto r = c.try_request("GET", "/api/v2/echo", {}, {}, bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, cxoauth::ResultCode::InvalidArgument);
    EXPECT_NE(r.error().message.find("\"max_retries\""), std::string::npos) << r.error().message;
    // the callback call is refused now; done is never called
    std::atomic<int> calls{0};
    auto started = c.request_async("GET", "/api/v2/echo", {}, {}, bad,
                                   [&](cxoauth::Result<cxoauth::Response>) { calls++; });
    EXPECT_FALSE(started);
    EXPECT_EQ(g_sim.counter("api_requests"), 0);
    EXPECT_EQ(calls.load(), 0);
}
