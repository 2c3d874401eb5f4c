// GoogleTest: Client::metrics (oauth_client_metrics) and Client::on_event (token events)
// against the cxoauth simulator.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include "cxoauth.hpp"
#include "sim_gtest.hpp"

namespace {

class Metrics : public SimTest {};

std::string config_named(const std::string& name) {
    return g_sim.config("\"metrics_name\":\"" + name + "\"");
}

TEST_F(Metrics, TextAndJson) {
    cxoauth::Client c(config_named("cpp-test"));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    auto text = c.metrics();
    EXPECT_NE(text.find("cxoauth_http_attempts_total{client=\"cpp-test\",cause=\"first\"} 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("# TYPE http_client_request_duration_seconds histogram\n"), std::string::npos);
    EXPECT_EQ(text.find("test-client"), std::string::npos) << "the client id in the metrics";
    EXPECT_EQ(c.metrics("json").rfind("{\"families\":[", 0), 0u);
    auto bad = c.try_metrics("xml");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, cxoauth::ResultCode::InvalidArgument);
}

/// Events of one client, collected in delivery order.
struct Collected {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<cxoauth::Event> events;

    void add(const cxoauth::Event& e) {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(e);
        cv.notify_all();
    }
    cxoauth::Event next() {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return !events.empty(); }))
            ADD_FAILURE() << "no event";
        if (events.empty()) return {};
        auto e = events.front();
        events.pop_front();
        return e;
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(mu);
        return events.size();
    }
};

TEST_F(Metrics, EventsOnceEachInOrder) {
    cxoauth::Client c(g_sim.config());
    Collected got;
    c.on_event([&got](const cxoauth::Event& e) { got.add(e); });
    using K = cxoauth::EventKind;
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    auto e = got.next();
    EXPECT_EQ(e.kind, K::TokenFetched);
    EXPECT_GT(e.expires_unix_ms, e.time_unix_ms);
    g_sim.fault(R"({"target":"api","count":1,"action":{"kind":"status","status":429}})");
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    e = got.next();
    EXPECT_EQ(e.kind, K::RateLimited);
    EXPECT_EQ(e.http_status, 429);
    EXPECT_EQ(got.next().kind, K::RateLimitCleared);
    g_sim.admin("POST", "revoke");
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    e = got.next();
    EXPECT_EQ(e.kind, K::TokenInvalidated);
    EXPECT_EQ(e.http_status, 401);
    e = got.next();
    EXPECT_EQ(e.kind, K::TokenFetched);
    EXPECT_EQ(e.message.find("test-client"), std::string::npos) << e.message;
    // a throwing sink does not break the client; an empty one turns events off
    c.on_event([](const cxoauth::Event&) { throw std::runtime_error("sink"); });
    g_sim.admin("POST", "revoke");
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    c.on_event(nullptr);
    g_sim.admin("POST", "revoke");
    EXPECT_EQ(c.request("GET", "/api/v2/echo").status(), 200);
    EXPECT_EQ(got.size(), 0u);
}

}  // namespace

int main(int argc, char** argv) { return run_all_tests_with_sim(argc, argv); }
