// The non-throwing API compiled with -fno-exceptions (a host built without exceptions):
// cxoauth.hpp then offers only Client::create and the try_* members, which this suite uses.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "cxoauth.hpp"
#include "sim_gtest.hpp"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#error "this suite must be compiled with -fno-exceptions"
#endif
static_assert(CXOAUTH_HPP_EXCEPTIONS == 0, "cxoauth.hpp must see the no-exceptions build");

namespace {

class NoExceptions : public SimTest {};

TEST_F(NoExceptions, CreateTokenRequestInvalidateClose) {
    auto bad = cxoauth::Client::create(R"({"regoin":"x"})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), cxoauth::ResultCode::Config);

    g_sim.token_lifetime(60);
    auto c = cxoauth::Client::create(g_sim.config());
    ASSERT_TRUE(c.ok());
    auto t = c->try_token_ex();
    ASSERT_TRUE(t.ok());
    EXPECT_GT(t->expires, std::chrono::system_clock::now() + std::chrono::seconds(55));
    auto r = c->try_request("GET", "/api/v2/organizations/me");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status(), 200);
    size_t cookies = 0;
    for (const auto& h : r->headers()) cookies += h.first == "set-cookie";
    EXPECT_EQ(cookies, 2u);
    EXPECT_TRUE(c->try_invalidate_token(t->value).ok());
    auto t2 = c->try_token();
    ASSERT_TRUE(t2.ok());
    EXPECT_NE(*t2, t->value);
    EXPECT_EQ(g_sim.counter("token_requests"), 2);
    c->close();
    EXPECT_EQ(c->try_token().code(), cxoauth::ResultCode::Closed);
    EXPECT_EQ(c->try_request("GET", "/api/v2/echo").code(), cxoauth::ResultCode::Closed);
}

TEST_F(NoExceptions, AuthFailureIsAValue) {
    auto c = cxoauth::Client::create(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    ASSERT_TRUE(c.ok());
    auto r = c->try_request("GET", "/api/v2/echo");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), cxoauth::ResultCode::Auth);
    EXPECT_EQ(r.error().oauth_code.value_or(""), "invalid_client");
    EXPECT_EQ(r.error_code(), cxoauth::ResultCode::Auth);
}


TEST_F(NoExceptions, CallbacksStatsLogSinkAndRotation) {
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    int status = 0;
    cxoauth::ResultCode token_code = cxoauth::ResultCode::Internal;
    size_t lines = 0;
    ASSERT_FALSE(cxoauth::set_log_sink(
        [&](cxoauth::LogLevel, std::string_view) {
            std::lock_guard<std::mutex> lock(mu);
            lines++;
        },
        cxoauth::LogLevel::Debug));
    auto c = cxoauth::Client::create(g_sim.config());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c->token_async([&](cxoauth::Result<cxoauth::Token> t) {
                      std::lock_guard<std::mutex> lock(mu);
                      token_code = t.code();
                      done++;
                      cv.notify_all();
                  }).ok());
    ASSERT_TRUE(c->request_async("GET", "/api/v2/echo", {}, {},
                                 [&](cxoauth::Result<cxoauth::Response> r) {
                                     std::lock_guard<std::mutex> lock(mu);
                                     status = r ? r->status() : -1;
                                     done++;
                                     cv.notify_all();
                                 })
                    .ok());
    {
        std::unique_lock<std::mutex> lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == 2; }));
        EXPECT_EQ(token_code, cxoauth::ResultCode::Ok);
        EXPECT_EQ(status, 200);
        EXPECT_GT(lines, 0u);
    }
    EXPECT_FALSE(cxoauth::set_log_sink(nullptr));
    auto refused = c->request_async("GE T", "/x", {}, {}, [](cxoauth::Result<cxoauth::Response>) {});
    EXPECT_EQ(refused.code(), cxoauth::ResultCode::InvalidArgument);

    auto s = c->try_stats();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->token_fetches, 1u);
    EXPECT_EQ(s->requests, 1u);
    EXPECT_TRUE(c->try_stats_json().ok());
    EXPECT_TRUE(c->try_set_credentials(kClientId, kSecret).ok());
    EXPECT_EQ(c->try_set_access_key("a", "b", "c", "d").code(), cxoauth::ResultCode::InvalidArgument);
}

}  // namespace

int main(int argc, char** argv) { return run_all_tests_with_sim(argc, argv); }
