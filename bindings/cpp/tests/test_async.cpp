// GoogleTest suite of the C++ wrapper's asynchronous calls (futures and callbacks on
// oauth_request_async / oauth_get_token_async), log sink, stats and secret rotation, against
// the cxoauth simulator.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cxoauth.hpp"
#include "sim_gtest.hpp"

namespace {

class Async : public SimTest {
protected:
    void TearDown() override { (void)cxoauth::set_log_sink(nullptr); }
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void wait_for_counter(const char* name, long n) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (g_sim.counter(name) < n) {
        ASSERT_LT(Clock::now(), deadline) << "timed out waiting for " << name << " >= " << n;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

/// Collects callback results; wait(n) blocks until n have arrived.
template <typename T>
struct Collector {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<cxoauth::Result<T>> results;
    std::vector<std::thread::id> threads;

    std::function<void(cxoauth::Result<T>)> callback() {
        return [this](cxoauth::Result<T> r) {
            std::lock_guard<std::mutex> lock(mu);
            results.push_back(std::move(r));
            threads.push_back(std::this_thread::get_id());
            cv.notify_all();
        };
    }
    bool wait(size_t n, std::chrono::seconds timeout = std::chrono::seconds(10)) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, timeout, [&] { return results.size() >= n; });
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(mu);
        return results.size();
    }
};

TEST_F(Async, ManyFuturesInFlightCompleteTogether) {
    cxoauth::Client c(g_sim.config());
    (void)c.token();
    constexpr int n = 32;
    g_sim.fault(R"({"target":"api","count":32,"action":{"kind":"delay","ms":1000}})");
    auto t0 = Clock::now();
    std::vector<std::future<cxoauth::Response>> fs;
    for (int i = 0; i < n; i++)
        fs.push_back(c.request_async("GET", "/api/v2/echo/f" + std::to_string(i),
                                     {{"X-I", std::to_string(i)}}));
    EXPECT_LT(seconds_since(t0), 0.5) << "request_async blocked";
    for (int i = 0; i < n; i++) {
        cxoauth::Response r = fs[static_cast<size_t>(i)].get();
        EXPECT_EQ(r.status(), 200);
        EXPECT_NE(r.body().find("\"x-i\":\"" + std::to_string(i) + "\""), std::string_view::npos);
    }
    double el = seconds_since(t0);
    EXPECT_GE(el, 0.9);
    EXPECT_LT(el, 2.5) << n << " requests of 1 s did not run concurrently";
    EXPECT_EQ(g_sim.counter("api_requests"), n);
    EXPECT_EQ(g_sim.counter("token_requests"), 1);

    cxoauth::Token t = c.token_async().get();  // cached
    EXPECT_FALSE(t.value.empty());
    EXPECT_GT(t.expires, std::chrono::system_clock::now());
}

TEST_F(Async, FutureThrowsTheFailure) {
    cxoauth::Client bad(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    auto f = bad.token_async();
    try {
        (void)f.get();
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.code(), cxoauth::ResultCode::Auth);
        EXPECT_EQ(e.oauth_code().value_or(""), "invalid_client");
    }
    // A call the library refuses: the future holds the error at once.
    cxoauth::Client c(g_sim.config());
    auto r = c.request_async("GE T", "/api/v2/echo");
    ASSERT_EQ(r.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    try {
        (void)r.get();
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.code(), cxoauth::ResultCode::InvalidArgument);
    }
}

TEST_F(Async, CallbackVariant) {
    cxoauth::Client c(g_sim.config());
    Collector<cxoauth::Response> responses;
    Collector<cxoauth::Token> tokens;
    ASSERT_TRUE(c.token_async(tokens.callback()).ok());
    ASSERT_TRUE(tokens.wait(1));
    ASSERT_TRUE(tokens.results[0].ok());
    EXPECT_NE(tokens.threads[0], std::this_thread::get_id());  // the completion thread
    const std::string token = tokens.results[0]->value;

    for (int i = 0; i < 8; i++)
        ASSERT_TRUE(c.request_async("POST", "/api/v2/echo/cb", {{"X-N", std::to_string(i)}},
                                    "body-" + std::to_string(i), responses.callback())
                        .ok());
    ASSERT_TRUE(responses.wait(8));
    for (auto& r : responses.results) {
        ASSERT_TRUE(r.ok()) << r.error().message;
        EXPECT_EQ(r->status(), 200);
        EXPECT_NE(r->body().find("\"body\":\"body-"), std::string_view::npos);
    }
    for (auto id : responses.threads) EXPECT_NE(id, std::this_thread::get_id());

    // An API error is a response; a refused call is a Failure and no callback.
    Collector<cxoauth::Response> errors;
    ASSERT_TRUE(c.request_async("GET", "/api/v2/users/me", {}, {}, errors.callback()).ok());
    ASSERT_TRUE(errors.wait(1));
    ASSERT_TRUE(errors.results[0].ok());
    EXPECT_EQ(errors.results[0]->status(), 400);
    auto refused = c.request_async("GET", "https://evil.example/x", {}, {}, errors.callback());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.code(), cxoauth::ResultCode::InvalidArgument);
    auto refused2 = c.request_async("GET", "/x", {{"Authorization", "Bearer x"}}, {}, errors.callback());
    EXPECT_EQ(refused2.code(), cxoauth::ResultCode::InvalidArgument);

    // A failed token fetch arrives as a Failure value.
    cxoauth::Client bad(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    Collector<cxoauth::Response> failed;
    ASSERT_TRUE(bad.request_async("GET", "/api/v2/echo", {}, {}, failed.callback()).ok());
    ASSERT_TRUE(failed.wait(1));
    ASSERT_FALSE(failed.results[0].ok());
    EXPECT_EQ(failed.results[0].code(), cxoauth::ResultCode::Auth);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(errors.size(), 1u) << "a refused call's callback ran";

    // A callback may call the library, blocking calls included.
    std::promise<int> nested;
    ASSERT_TRUE(c.token_async([&](cxoauth::Result<cxoauth::Token> t) {
                     nested.set_value(t ? c.try_request("GET", "/api/v2/echo")->status() : -1);
                 }).ok());
    EXPECT_EQ(nested.get_future().get(), 200);
    (void)token;
}

TEST_F(Async, CancelTokenEndsPendingCalls) {
    cxoauth::Client c(g_sim.config());
    (void)c.token();
    g_sim.fault(R"({"target":"api","count":4,"action":{"kind":"delay","ms":5000}})");
    std::optional<cxoauth::CancelToken> tok(std::in_place);
    auto f1 = c.request_async(*tok, "GET", "/api/v2/echo/a");
    auto f2 = c.request_async(*tok, "GET", "/api/v2/echo/b");
    Collector<cxoauth::Response> cb;
    ASSERT_TRUE(c.request_async(*tok, "GET", "/api/v2/echo/c", {}, {}, cb.callback()).ok());
    wait_for_counter("api_requests", 3);
    auto t0 = Clock::now();
    tok->cancel();
    tok.reset();  // the calls keep the native token alive
    for (auto* f : {&f1, &f2}) {
        try {
            (void)f->get();
            FAIL() << "no exception";
        } catch (const cxoauth::Error& e) {
            EXPECT_EQ(e.code(), cxoauth::ResultCode::Cancelled);
        }
    }
    ASSERT_TRUE(cb.wait(1));
    EXPECT_EQ(cb.results[0].code(), cxoauth::ResultCode::Cancelled);
    EXPECT_LT(seconds_since(t0), 1.0);

    // A token already cancelled: the call still completes through done, with Cancelled.
    cxoauth::CancelToken done_tok;
    done_tok.cancel();
    Collector<cxoauth::Response> t;
    ASSERT_TRUE(c.request_async(done_tok, "GET", "/api/v2/echo", {}, {}, t.callback()).ok());
    ASSERT_TRUE(t.wait(1));
    EXPECT_EQ(t.results[0].code(), cxoauth::ResultCode::Cancelled);

    // close() ends pending calls too; later calls are refused with Closed.
    auto f3 = c.request_async("GET", "/api/v2/echo/d");
    wait_for_counter("api_requests", 4);
    c.close();
    EXPECT_THROW((void)f3.get(), cxoauth::Error);
    auto late = c.request_async("GET", "/api/v2/echo", {}, {}, cb.callback());
    EXPECT_EQ(late.code(), cxoauth::ResultCode::Closed);
    EXPECT_EQ(g_sim.counter("api_requests"), 4);
}

TEST_F(Async, DestroyingTheLastClientCompletesPendingCalls) {
    Collector<cxoauth::Response> cb;
    std::vector<std::future<cxoauth::Response>> fs;
    {
        cxoauth::Client c(g_sim.config());
        (void)c.token();
        g_sim.fault(R"({"target":"api","count":6,"action":{"kind":"delay","ms":5000}})");
        cxoauth::Client copy = c;
        for (int i = 0; i < 3; i++) {
            ASSERT_TRUE(copy.request_async("GET", "/api/v2/echo", {}, {}, cb.callback()).ok());
            fs.push_back(copy.request_async("GET", "/api/v2/echo"));
        }
        wait_for_counter("api_requests", 6);
        {
            cxoauth::Client gone = std::move(copy);  // not the last copy: nothing happens
        }
        EXPECT_EQ(cb.size(), 0u);
        auto t0 = Clock::now();
        c = cxoauth::Client(g_sim.config());  // the last copy of the first client goes here
        EXPECT_LT(seconds_since(t0), 1.0);
        // Its pending calls have completed (their callbacks ran) before that returned.
        EXPECT_EQ(cb.size(), 3u);
        for (auto& f : fs)
            EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    }
    for (auto& r : cb.results) EXPECT_EQ(r.code(), cxoauth::ResultCode::Cancelled);
    for (auto& f : fs) {
        try {
            (void)f.get();
            ADD_FAILURE() << "no exception";
        } catch (const cxoauth::Error& e) {
            EXPECT_EQ(e.code(), cxoauth::ResultCode::Cancelled);
        }
    }
}

TEST_F(Async, LogSinkReceivesLines) {
    struct Line {
        cxoauth::LogLevel level;
        std::string text;
    };
    std::mutex mu;
    std::vector<Line> lines;
    auto sink = [&](cxoauth::LogLevel level, std::string_view text) {
        std::lock_guard<std::mutex> lock(mu);
        lines.push_back({level, std::string(text)});
    };
    auto count = [&] {
        std::lock_guard<std::mutex> lock(mu);
        return lines.size();
    };
    auto has = [&](cxoauth::LogLevel level, const std::string& part) {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& l : lines)
            if (l.level == level && l.text.find(part) != std::string::npos) return true;
        return false;
    };
    ASSERT_FALSE(cxoauth::set_log_sink(sink, cxoauth::LogLevel::Debug));
    cxoauth::Client c(g_sim.config());
    std::string token = c.token();
    EXPECT_TRUE(has(cxoauth::LogLevel::Info, "token fetched"));
    {
        std::lock_guard<std::mutex> lock(mu);
        for (auto& l : lines) {
            EXPECT_EQ(l.text.find(token), std::string::npos);
            EXPECT_EQ(l.text.find(kSecret), std::string::npos);
        }
    }
    // At Error level: the failed fetch arrives, the info line of a good fetch does not.
    {
        std::lock_guard<std::mutex> lock(mu);
        lines.clear();
    }
    ASSERT_FALSE(cxoauth::set_log_sink(sink, cxoauth::LogLevel::Error));
    cxoauth::Client bad(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    EXPECT_EQ(bad.try_token().code(), cxoauth::ResultCode::Auth);
    cxoauth::Client good(g_sim.config());
    (void)good.token();
    EXPECT_TRUE(has(cxoauth::LogLevel::Error, "failed"));
    EXPECT_FALSE(has(cxoauth::LogLevel::Info, "token fetched"));
    // Off.
    ASSERT_FALSE(cxoauth::set_log_sink(nullptr));
    size_t n = count();
    cxoauth::Client other(g_sim.config());
    (void)other.token();
    EXPECT_EQ(count(), n);
}

TEST_F(Async, Stats) {
    cxoauth::Client c(g_sim.config());
    cxoauth::Stats s = c.stats();
    EXPECT_EQ(s.token_fetches, 0u);
    EXPECT_FALSE(s.token_expires_unix_ms.has_value());
    EXPECT_FALSE(s.last_error.has_value());
    (void)c.token();
    (void)c.token();  // from the cache
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    g_sim.admin("POST", "revoke");
    EXPECT_EQ(c.request_async("GET", "/api/v2/echo").get().status(), 200);  // 401 -> new token
    s = c.stats();
    EXPECT_EQ(s.token_fetches, 2u);
    EXPECT_EQ(s.token_fetch_failures, 0u);
    EXPECT_GE(s.token_cache_hits, 1u);
    EXPECT_EQ(s.requests, 2u);
    EXPECT_EQ(s.retries.unauthorized, 1u);
    EXPECT_EQ(s.retries.rate_limited, 0u);
    EXPECT_FALSE(s.rate_limited_until_unix_ms.has_value());
    ASSERT_TRUE(s.token_expires_unix_ms.has_value());
    EXPECT_GT(*s.token_expires_unix_ms,
              static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()));
    EXPECT_NE(s.json.find("\"token_fetches\":2"), std::string::npos);
    EXPECT_NE(c.stats_json().find("\"retries\""), std::string::npos);

    cxoauth::Client bad(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    EXPECT_EQ(bad.try_token().code(), cxoauth::ResultCode::Auth);
    auto bs = bad.try_stats();
    ASSERT_TRUE(bs.ok());
    EXPECT_EQ(bs->token_fetch_failures, 1u);
    ASSERT_TRUE(bs->last_error.has_value());
    EXPECT_EQ(bs->last_error->code, cxoauth::ResultCode::Auth);
    EXPECT_FALSE(bs->last_error->message.empty());
    EXPECT_EQ(bs->last_error->message.find("Wr0ngSecretValue"), std::string::npos);
    EXPECT_GT(bs->last_error->time_unix_ms, 0u);
    c.close();  // the counters of a closed client stay readable
    auto closed = c.try_stats();
    ASSERT_TRUE(closed.ok());
    EXPECT_EQ(closed->requests, 2u);
}

TEST_F(Async, SetCredentialsRotatesTheSecret) {
    ASSERT_EQ(g_sim
                  .admin("POST", "clients",
                         R"({"client_id":"rotated-client","client_secret":"rotated: secret"})")
                  .first,
              204);
    cxoauth::Client c(g_sim.config("\"client_secret\":\"Wr0ngSecretValue\""));
    EXPECT_EQ(c.try_token().code(), cxoauth::ResultCode::Auth);
    // The remembered failure of the old credentials does not hold the new ones back.
    c.set_credentials("rotated-client", "rotated: secret");
    std::string t1 = c.token_async().get().value;
    // Rotating keeps the cached token until it is invalidated.
    c.set_credentials(kClientId, kSecret);
    EXPECT_EQ(c.token(), t1);
    c.invalidate_token(t1);
    std::string t2 = c.token();
    EXPECT_NE(t2, t1);
    EXPECT_EQ(g_sim.counter("token_requests"), 3);
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);

    EXPECT_EQ(c.try_set_credentials(std::string_view("a\0b", 3), "x").code(),
              cxoauth::ResultCode::InvalidArgument);
    // A generic client's grant uses no access key.
    EXPECT_EQ(c.try_set_access_key("id", "secret", "key", "key-secret").code(),
              cxoauth::ResultCode::InvalidArgument);
    EXPECT_THROW(c.set_access_key("id", "secret", "key", "key-secret"), cxoauth::Error);
    c.close();
    try {
        c.set_credentials("x", "y");
        FAIL() << "no exception";
    } catch (const cxoauth::Error& e) {
        EXPECT_EQ(e.code(), cxoauth::ResultCode::Closed);
    }
}

}  // namespace

int main(int argc, char** argv) { return run_all_tests_with_sim(argc, argv); }
