// cxoauth.hpp: header-only C++17 wrapper of the cxoauth C ABI.
//
//   cxoauth::Client client(R"({"region":"eu-central-1"})");   // or Client::from_env()
//   std::string token = client.token();
//   cxoauth::Response r = client.request("GET", "/api/v2/organizations/me");
//   std::cout << r.status() << " " << r.body() << "\n";
//
// Errors are thrown as cxoauth::Error (code, HTTP status, OAuth code, correlation id). The
// try_* members (Client::create, try_token, try_token_ex, try_request, try_invalidate_token,
// try_stats, try_stats_json, try_set_credentials, try_set_access_key) and the callback
// variants of request_async / token_async never throw cxoauth::Error: they return a cxoauth::Result<T> holding the value or a Failure
// (with a std::error_code in cxoauth::error_category()). Compiled without exceptions
// (-fno-exceptions), only those are available (the throwing members are left out).
//
//   auto c = cxoauth::Client::create(json);            // Result<Client>
//   if (!c) { log(c.error().message); return; }
//   auto r = c->try_request("GET", "/api/v2/organizations/me");
//   if (r) use(r->status(), r->headers());            // Result<Response>
//
// Asynchronous calls (oauth_request_async / oauth_get_token_async: no thread per call, the
// library's completion thread reports): request_async / token_async return a std::future
// (whose get() throws cxoauth::Error; left out without exceptions), or take a callback
// receiving a Result<T> (non-throwing; available with -fno-exceptions too):
//
//   std::future<cxoauth::Response> f = client.request_async("GET", "/api/v2/users/me");
//   auto started = client.request_async("GET", "/api/v2/users/me", {}, {},
//       [](cxoauth::Result<cxoauth::Response> r) { /* on the completion thread */ });
//
// Process-wide logging: cxoauth::set_log_sink([](cxoauth::LogLevel, std::string_view) {...});
// counters: client.stats() / stats_json(); secret rotation: set_credentials, set_access_key.
//
// Client lifetime (libcxoauth ABI 0.2): a Client is a cheap, copyable handle with shared
// ownership of one native client (like std::shared_ptr). Copies may be used and destroyed
// concurrently from any threads; the native client is closed and freed (oauth_close, then
// oauth_free) when the last copy goes, so never while a call through a copy is running.
// close() shuts the client down for every copy at once: calls in flight end with
// ResultCode::Cancelled, later calls throw ResultCode::Closed. As with std::shared_ptr, one
// Client object may be used by many threads at once, but not destroyed or assigned while
// another thread is using that same object: give each thread its own copy.
#ifndef CXOAUTH_HPP
#define CXOAUTH_HPP

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "cxoauth.h"

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define CXOAUTH_HPP_EXCEPTIONS 1
#else
#define CXOAUTH_HPP_EXCEPTIONS 0
#endif

#if CXOAUTH_HPP_EXCEPTIONS
#include <exception>
#include <future>
#endif

namespace cxoauth {

enum class ResultCode : uint32_t {
    Ok = OAUTH_OK,
    InvalidArgument = OAUTH_ERR_INVALID_ARGUMENT,
    Config = OAUTH_ERR_CONFIG,
    Network = OAUTH_ERR_NETWORK,
    Timeout = OAUTH_ERR_TIMEOUT,
    Tls = OAUTH_ERR_TLS,
    Auth = OAUTH_ERR_AUTH,
    RateLimited = OAUTH_ERR_RATE_LIMITED,
    Server = OAUTH_ERR_SERVER,
    Protocol = OAUTH_ERR_PROTOCOL,
    Cancelled = OAUTH_ERR_CANCELLED,
    Internal = OAUTH_ERR_INTERNAL,
    Closed = OAUTH_ERR_CLOSED,  ///< the call was made after close() (ABI 0.2)
};

/// The std::error_category of ResultCode values (name "cxoauth").
inline const std::error_category& error_category() noexcept {
    struct Category final : std::error_category {
        const char* name() const noexcept override { return "cxoauth"; }
        std::string message(int code) const override {
            static const char* const names[] = {
                "ok",       "invalid argument", "config",   "network",  "timeout",
                "tls",      "auth",             "rate limited", "server", "protocol",
                "cancelled", "internal",        "closed"};
            return code >= 0 && code < 13 ? names[code] : "code " + std::to_string(code);
        }
    };
    static const Category category;
    return category;
}

inline std::error_code make_error_code(ResultCode c) noexcept {
    return {static_cast<int>(c), error_category()};
}

/// A failed call, as a value: what the non-throwing try_* members return.
struct Failure {
    ResultCode code = ResultCode::Internal;
    std::string message;  ///< never contains secrets or tokens
    uint16_t http_status = 0;
    std::optional<std::string> oauth_code;
    std::optional<std::string> correlation_id;

    [[nodiscard]] std::error_code error_code() const noexcept { return make_error_code(code); }
};

/// The value of a successful call, or the Failure of a failed one (like std::expected).
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Failure failure) : failure_(std::move(failure)) {}  // NOLINT

    [[nodiscard]] bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    /// The value; only when ok() (else std::abort, as there may be no exceptions).
    [[nodiscard]] T& value() & noexcept { return check(), *value_; }
    [[nodiscard]] const T& value() const& noexcept { return check(), *value_; }
    [[nodiscard]] T&& value() && noexcept { return check(), std::move(*value_); }
    T* operator->() noexcept { return &value(); }
    const T* operator->() const noexcept { return &value(); }
    T& operator*() & noexcept { return value(); }
    const T& operator*() const& noexcept { return value(); }
    /// The failure; only when !ok() (else std::abort).
    [[nodiscard]] const Failure& error() const noexcept {
        if (!failure_) std::abort();
        return *failure_;
    }
    /// ResultCode::Ok when ok(), else the failure's code.
    [[nodiscard]] ResultCode code() const noexcept { return ok() ? ResultCode::Ok : failure_->code; }
    /// An empty std::error_code when ok(), else the failure's.
    [[nodiscard]] std::error_code error_code() const noexcept {
        return ok() ? std::error_code() : failure_->error_code();
    }

private:
    void check() const noexcept {
        if (!value_) std::abort();
    }
    std::optional<T> value_;
    std::optional<Failure> failure_;
};

/// Result of a call without a value.
struct Done {};

/// A failed call. what() never contains secrets or tokens.
class Error : public std::runtime_error {
public:
    Error(ResultCode code, std::string message, uint16_t http_status = 0,
          std::optional<std::string> oauth_code = std::nullopt,
          std::optional<std::string> correlation_id = std::nullopt)
        : std::runtime_error(std::move(message)),
          code_(code),
          http_status_(http_status),
          oauth_code_(std::move(oauth_code)),
          correlation_id_(std::move(correlation_id)) {}

    explicit Error(Failure f)
        : Error(f.code, std::move(f.message), f.http_status, std::move(f.oauth_code),
                std::move(f.correlation_id)) {}

    [[nodiscard]] ResultCode code() const noexcept { return code_; }
    [[nodiscard]] std::error_code error_code() const noexcept { return make_error_code(code_); }
    [[nodiscard]] uint16_t http_status() const noexcept { return http_status_; }
    [[nodiscard]] const std::optional<std::string>& oauth_code() const noexcept { return oauth_code_; }
    [[nodiscard]] const std::optional<std::string>& correlation_id() const noexcept {
        return correlation_id_;
    }

private:
    ResultCode code_;
    uint16_t http_status_;
    std::optional<std::string> oauth_code_;
    std::optional<std::string> correlation_id_;
};

namespace detail {
inline std::optional<std::string> opt(const char* s) {
    return s ? std::optional<std::string>(s) : std::nullopt;
}

/// The Failure of a failed call, freeing the native error (which may be NULL).
inline Failure failure(oauth_result rc, oauth_error* err) {
    std::unique_ptr<oauth_error, void (*)(oauth_error*)> guard(err, oauth_error_free);
    Failure f;
    f.code = static_cast<ResultCode>(rc);
    f.message = err ? oauth_error_message(err) : error_category().message(static_cast<int>(rc));
    f.http_status = oauth_error_http_status(err);
    f.oauth_code = opt(oauth_error_oauth_code(err));
    f.correlation_id = opt(oauth_error_correlation_id(err));
    return f;
}

#if CXOAUTH_HPP_EXCEPTIONS
/// Throws the Error for a failed call, freeing the native error.
[[noreturn]] inline void throw_error(oauth_result rc, oauth_error* err) {
    throw Error(failure(rc, err));
}

/// The value of r, or its failure thrown as an Error.
template <typename T>
T unwrap(Result<T>&& r) {
    if (!r) throw Error(r.error());
    return std::move(r).value();
}
#endif

/// Owns one oauth_client*, shared by all copies of a Client (the close-then-free protocol of
/// docs/ABI.md, with the shared_ptr's count as the count of calls): the last copy to go destroys it,
/// and since every call is made through a copy, no call can be running on it by then (the
/// oauth_free contract).
class ClientOwner {
public:
    explicit ClientOwner(oauth_client* c) noexcept : c_(c) {}
    ClientOwner(const ClientOwner&) = delete;
    ClientOwner& operator=(const ClientOwner&) = delete;
    ~ClientOwner() {
        oauth_close(c_);
        oauth_free(c_);
    }
    oauth_client* get() const noexcept { return c_; }

    /// The event handlers given to the library (Client::on_event): the current one and the
    /// one before it, alive as long as the native client (destroyed after oauth_free).
    std::shared_ptr<void> events[2];
    std::mutex events_mu;

private:
    oauth_client* c_;
};

#if CXOAUTH_HPP_EXCEPTIONS
// Call as `oauth_result rc = f(..., &err); check(rc, err);` — never `check(f(&err), err)`:
// the order in which function arguments are evaluated is unspecified.
inline void check(oauth_result rc, oauth_error* err) {
    if (rc != OAUTH_OK) throw_error(rc, err);
}
#endif
}  // namespace detail

/// A token event (oauth_set_event_callback; Client::on_event). `message` never holds a secret
/// or a token.
enum class EventKind : std::uint32_t {
    TokenFetched = OAUTH_EVENT_TOKEN_FETCHED,
    TokenRefreshFailed = OAUTH_EVENT_TOKEN_REFRESH_FAILED,
    TokenInvalidated = OAUTH_EVENT_TOKEN_INVALIDATED,
    RateLimited = OAUTH_EVENT_RATE_LIMITED,
    RateLimitCleared = OAUTH_EVENT_RATE_LIMIT_CLEARED,
    SharedCacheDown = OAUTH_EVENT_SHARED_CACHE_DOWN,
    SharedCacheUp = OAUTH_EVENT_SHARED_CACHE_UP,
};

struct Event {
    EventKind kind{};          ///< a number newer than this header stays as it is
    std::uint32_t result = 0;  ///< the oauth_result of what failed, else OAUTH_OK
    int http_status = 0;       ///< 0 when none
    std::uint64_t time_unix_ms = 0;
    std::uint64_t expires_unix_ms = 0;  ///< the token's expiry for TokenFetched, else 0
    std::string message;
};

using EventSink = std::function<void(const Event&)>;

namespace detail {
// The C callback of Client::on_event: userdata is the EventSink; nothing may unwind into C.
inline void event_trampoline(void* userdata, const oauth_event* e) noexcept {
    if (!userdata || !e) return;
#if CXOAUTH_HPP_EXCEPTIONS
    try {
#endif
        Event ev;
        ev.kind = static_cast<EventKind>(e->kind);
        ev.result = e->result;
        ev.http_status = e->http_status;
        ev.time_unix_ms = e->time_unix_ms;
        ev.expires_unix_ms = e->expires_unix_ms;
        if (e->message) ev.message = e->message;
        (*static_cast<const EventSink*>(userdata))(ev);
#if CXOAUTH_HPP_EXCEPTIONS
    } catch (...) {
    }
#endif
}
}  // namespace detail

class Client;

/// Per-call cancellation: pass to Client::token / Client::request (and their _async
/// variants), cancel() from any thread. Move-only; an asynchronous call keeps the native token
/// alive until it completes, so the CancelToken object may go before its calls have ended.
class CancelToken {
public:
    /// Throws cxoauth::Error if the token cannot be made (only when out of memory); built
    /// without exceptions, that aborts instead.
    CancelToken() {
        oauth_cancel_token* t = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_cancel_token_new(&t, &err);
#if CXOAUTH_HPP_EXCEPTIONS
        detail::check(rc, err);
#else
        if (rc != OAUTH_OK) std::abort();
#endif
        token_ = std::shared_ptr<oauth_cancel_token>(t, oauth_cancel_token_free);
    }
    CancelToken(CancelToken&&) noexcept = default;
    CancelToken& operator=(CancelToken&&) noexcept = default;
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;
    ~CancelToken() = default;

    /// Aborts every call given this token, now and later. Thread-safe.
    void cancel() const noexcept { oauth_cancel_token_cancel(token_.get()); }
    [[nodiscard]] const oauth_cancel_token* get() const noexcept { return token_.get(); }

private:
    friend class Client;
    std::shared_ptr<oauth_cancel_token> token_;
};

/// An HTTP response (move-only; owns the native response).
class Response {
public:
    explicit Response(oauth_response* r) noexcept : r_(r) {}
    Response(Response&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    Response& operator=(Response&& o) noexcept {
        if (this != &o) {
            oauth_response_free(r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    Response(const Response&) = delete;
    Response& operator=(const Response&) = delete;
    ~Response() { oauth_response_free(r_); }

    [[nodiscard]] int status() const noexcept { return oauth_response_status(r_); }
    /// The body; valid while this Response lives.
    [[nodiscard]] std::string_view body() const noexcept {
        size_t len = 0;
        const uint8_t* p = oauth_response_body(r_, &len);
        return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
    }
    /// A header value (case-insensitive name); of a repeated header, the first; valid while
    /// this Response lives.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
        if (name.find('\0') != std::string_view::npos) return std::nullopt;  // no such name
        const char* v = oauth_response_header(r_, std::string(name).c_str());
        return v ? std::optional<std::string_view>(v) : std::nullopt;
    }
    /// Every header line as {lower-case name, value}: a repeated header (Set-Cookie) is one
    /// entry per line, never joined; names in the order first received, the values of a
    /// repeated name in the order received.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> headers() const {
        std::vector<std::pair<std::string, std::string>> out;
        const size_t n = oauth_response_header_count(r_);
        out.reserve(n);
        for (size_t i = 0; i < n; i++) {
            const char* name = nullptr;
            const char* value = nullptr;
            if (oauth_response_header_at(r_, i, &name, &value) == OAUTH_OK)
                out.emplace_back(name, value);
        }
        return out;
    }
    /// Every value of header `name` (case-insensitive), in the order received.
    [[nodiscard]] std::vector<std::string> header_values(std::string_view name) const {
        std::vector<std::string> out;
        for (auto& [k, v] : headers())
            if (iequals(k, name)) out.push_back(std::move(v));
        return out;
    }

private:
    static bool iequals(std::string_view a, std::string_view b) noexcept {
        if (a.size() != b.size()) return false;
        for (size_t i = 0; i < a.size(); i++) {
            char x = a[i], y = b[i];
            if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
            if (x != y) return false;
        }
        return true;
    }
    oauth_response* r_;
};

/// An access token with its expiry (oauth_get_token_ex): the server's expires_in counted from
/// when its reply arrived, not reduced by the refresh margin.
struct Token {
    std::string value;  ///< without "Bearer "
    std::chrono::system_clock::time_point expires;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// A log line's level (oauth_set_log_callback numbers them 1 error .. 4 debug).
enum class LogLevel : uint32_t { Error = 1, Warn = 2, Info = 3, Debug = 4 };

/// A process-wide log sink: see set_log_sink.
using LogSink = std::function<void(LogLevel, std::string_view)>;

/// A client's counters and state (oauth_client_stats), decoded from its JSON.
struct Stats {
    uint64_t token_fetches = 0;         ///< token requests started
    uint64_t token_fetch_failures = 0;  ///< ... and failed
    uint64_t token_cache_hits = 0;      ///< token reads answered from the cache
    uint64_t requests = 0;              ///< API calls, each counted once however often sent
    struct Retries {                    ///< API attempts sent again, by cause
        uint64_t rate_limited = 0;      ///< "429"
        uint64_t server = 0;            ///< "5xx" (502/503/504)
        uint64_t network = 0;           ///< "network": connection failures, timeouts
        uint64_t unauthorized = 0;      ///< "401": new token after a 401
    } retries;
    /// Until when the client holds requests back after a 429 with Retry-After.
    std::optional<uint64_t> rate_limited_until_unix_ms;
    std::optional<uint64_t> token_expires_unix_ms;  ///< expiry of the cached token
    struct LastError {
        ResultCode code = ResultCode::Ok;
        std::string message;
        uint64_t time_unix_ms = 0;
    };
    std::optional<LastError> last_error;  ///< the last failed call
    std::string json;                     ///< the library's JSON as it is
};

namespace detail {
inline bool has_nul(std::string_view s) noexcept { return s.find('\0') != std::string_view::npos; }

/// The Failure for a string argument with a NUL inside: C would end the string there (the
/// rest silently dropped), so it is refused instead. Names the argument, never its value.
inline Failure nul_failure(const char* what) {
    Failure f;
    f.code = ResultCode::InvalidArgument;
    f.message = std::string("invalid argument: ") + what + " contains a NUL byte";
    return f;
}

/// The C strings of one request, valid while this lives (the library copies them).
struct RequestArgs {
    RequestArgs(std::string_view m, std::string_view p, const Headers& headers)
        : method(m), path(p) {
        if (has_nul(m)) nul = "the method";
        else if (has_nul(p)) nul = "the path";
        lines.reserve(headers.size());
        for (const auto& [name, value] : headers) {
            if (!nul && (has_nul(name) || has_nul(value))) nul = "a header";
            lines.push_back(name + ": " + value);
        }
        ptrs.reserve(lines.size() + 1);
        for (const auto& l : lines) ptrs.push_back(l.c_str());
        ptrs.push_back(nullptr);
    }
    std::string method, path;
    std::vector<std::string> lines;
    std::vector<const char*> ptrs;
    const char* nul = nullptr;  ///< which argument has a NUL inside (refused), or null
};

/// The Failure of a call the library refused to start (it gives no oauth_error then).
inline Failure rejected(oauth_result rc) {
    Failure f = failure(rc, nullptr);
    if (rc == OAUTH_ERR_INVALID_ARGUMENT)
        f.message = "invalid argument: a moved-from client, a method that is not an HTTP token, "
                    "a malformed or reserved header, a URL on another host than the API base, "
                    "or a bad call option";
    return f;
}

inline Result<Response> response_result(oauth_result rc, oauth_response* resp, oauth_error* err) {
    if (rc != OAUTH_OK) {
        oauth_response_free(resp);
        return failure(rc, err);
    }
    oauth_error_free(err);
    return Response(resp);
}

inline std::chrono::system_clock::time_point from_unix_ms(uint64_t ms) {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::milliseconds(ms)));
}

inline Result<Token> token_result(oauth_result rc, char* tok, uint64_t ms, oauth_error* err) {
    std::unique_ptr<char, void (*)(char*)> guard(tok, oauth_string_free);
    if (rc != OAUTH_OK) return failure(rc, err);
    oauth_error_free(err);
    return Token{std::string(tok ? tok : ""), from_unix_ms(ms)};
}

/// Per-call state of a callback call: heap-allocated, handed to the library as userdata,
/// freed by done (or at once when the call is refused). It holds the cancel token (so the
/// CancelToken object may go first) but not the client: destroying the last Client copy
/// completes the pending calls (oauth_free) before it returns.
template <typename T>
struct CallbackCall {
    std::function<void(Result<T>)> fn;
    std::shared_ptr<oauth_cancel_token> cancel;
};

/// Runs a user callback on the completion thread: nothing may propagate into the C library.
template <typename T>
void run_callback(std::function<void(Result<T>)>& fn, Result<T>&& r) noexcept {
#if CXOAUTH_HPP_EXCEPTIONS
    try {
        if (fn) fn(std::move(r));
    } catch (...) {  // an exception cannot cross the C library: it is dropped
    }
#else
    if (fn) fn(std::move(r));
#endif
}

inline void request_done_callback(void* ud, oauth_result rc, oauth_response* resp,
                                  oauth_error* err) {
    std::unique_ptr<CallbackCall<Response>> call(static_cast<CallbackCall<Response>*>(ud));
    run_callback(call->fn, response_result(rc, resp, err));
}

inline void token_done_callback(void* ud, oauth_result rc, char* tok, uint64_t ms,
                                oauth_error* err) {
    std::unique_ptr<CallbackCall<Token>> call(static_cast<CallbackCall<Token>*>(ud));
    run_callback(call->fn, token_result(rc, tok, ms, err));
}

#if CXOAUTH_HPP_EXCEPTIONS
/// Per-call state of a future call.
template <typename T>
struct PromiseCall {
    std::promise<T> promise;
    std::shared_ptr<oauth_cancel_token> cancel;
};

template <typename T>
void fulfil(std::promise<T>& p, Result<T>&& r) noexcept {
    try {
        if (r)
            p.set_value(std::move(r).value());
        else
            p.set_exception(std::make_exception_ptr(Error(r.error())));
    } catch (...) {  // std::future_error or bad_alloc: nothing can be reported
    }
}

inline void request_done_promise(void* ud, oauth_result rc, oauth_response* resp,
                                 oauth_error* err) {
    std::unique_ptr<PromiseCall<Response>> call(static_cast<PromiseCall<Response>*>(ud));
    fulfil(call->promise, response_result(rc, resp, err));
}

inline void token_done_promise(void* ud, oauth_result rc, char* tok, uint64_t ms,
                               oauth_error* err) {
    std::unique_ptr<PromiseCall<Token>> call(static_cast<PromiseCall<Token>*>(ud));
    fulfil(call->promise, token_result(rc, tok, ms, err));
}
#endif

/// The process-wide sink behind oauth_set_log_callback. Never destroyed (library threads
/// may log during static destruction); replaced sinks live on while a line is delivered.
struct LogSlot {
    std::mutex mu;     // guards sink (held only to copy or swap it)
    std::mutex setmu;  // orders set_log_sink calls
    std::shared_ptr<const LogSink> sink;
};
inline LogSlot& log_slot() {
    static LogSlot* slot = new LogSlot();  // intentionally leaked
    return *slot;
}

inline void log_trampoline(void*, uint32_t level, const char* message) {
    std::shared_ptr<const LogSink> sink;
    {
        LogSlot& slot = log_slot();
        std::lock_guard<std::mutex> lock(slot.mu);
        sink = slot.sink;
    }
    if (!sink || !*sink) return;
#if CXOAUTH_HPP_EXCEPTIONS
    try {
        (*sink)(static_cast<LogLevel>(level), message ? std::string_view(message) : std::string_view());
    } catch (...) {  // a sink must not throw into the library: dropped
    }
#else
    (*sink)(static_cast<LogLevel>(level), message ? std::string_view(message) : std::string_view());
#endif
}

/// Just enough JSON for oauth_client_stats: objects, strings, unsigned integers, null (any
/// other value is skipped).
class StatsParser {
public:
    explicit StatsParser(std::string_view s) : s_(s) {}

    bool parse(Stats& st) {
        return object([&](const std::string& key) {
            if (key == "token_fetches") return number(st.token_fetches);
            if (key == "token_fetch_failures") return number(st.token_fetch_failures);
            if (key == "token_cache_hits") return number(st.token_cache_hits);
            if (key == "requests") return number(st.requests);
            if (key == "retries") {
                if (null()) return true;
                return object([&](const std::string& k) {
                    if (k == "429") return number(st.retries.rate_limited);
                    if (k == "5xx") return number(st.retries.server);
                    if (k == "network") return number(st.retries.network);
                    if (k == "401") return number(st.retries.unauthorized);
                    return skip();
                });
            }
            if (key == "rate_limited_until_unix_ms") return optional(st.rate_limited_until_unix_ms);
            if (key == "token_expires_unix_ms") return optional(st.token_expires_unix_ms);
            if (key == "last_error") {
                if (null()) return true;
                Stats::LastError e;
                bool ok = object([&](const std::string& k) {
                    if (k == "code") {
                        uint64_t c = 0;
                        if (!number(c)) return false;
                        e.code = static_cast<ResultCode>(c);
                        return true;
                    }
                    if (k == "message") return string(e.message);
                    if (k == "time_unix_ms") return number(e.time_unix_ms);
                    return skip();
                });
                if (ok) st.last_error = std::move(e);
                return ok;
            }
            return skip();
        }) && (ws(), i_ == s_.size());
    }

private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) i_++;
    }
    bool peek(char c) {
        ws();
        return i_ < s_.size() && s_[i_] == c;
    }
    bool eat(char c) {
        if (!peek(c)) return false;
        i_++;
        return true;
    }
    bool null() {
        ws();
        if (s_.substr(i_, 4) != "null") return false;
        i_ += 4;
        return true;
    }
    template <typename F>
    bool object(F&& member) {
        if (!eat('{')) return false;
        if (eat('}')) return true;
        for (;;) {
            std::string key;
            if (!string(key) || !eat(':') || !member(key)) return false;
            if (eat('}')) return true;
            if (!eat(',')) return false;
        }
    }
    bool string(std::string& out) {
        if (!eat('"')) return false;
        out.clear();
        while (i_ < s_.size()) {
            char c = s_[i_++];
            if (c == '"') return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    if (i_ + 4 > s_.size()) return false;
                    unsigned cp = 0;
                    for (int k = 0; k < 4; k++) {
                        char h = s_[i_++];
                        cp <<= 4;
                        if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
                        else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
                        else return false;
                    }
                    // UTF-8 of the code unit (a surrogate pair becomes two 3-byte sequences)
                    if (cp < 0x80) {
                        out += static_cast<char>(cp);
                    } else if (cp < 0x800) {
                        out += static_cast<char>(0xC0 | (cp >> 6));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (cp >> 12));
                        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default: out += e;  // \" \\ \/
            }
        }
        return false;
    }
    bool number(uint64_t& out) {
        ws();
        size_t start = i_;
        uint64_t v = 0;
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            v = v * 10 + static_cast<uint64_t>(s_[i_++] - '0');
        if (i_ == start) return false;
        out = v;
        return true;
    }
    bool optional(std::optional<uint64_t>& out) {
        if (null()) {
            out.reset();
            return true;
        }
        uint64_t v = 0;
        if (!number(v)) return false;
        out = v;
        return true;
    }
    bool skip() {  // any JSON value
        ws();
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '"') {
            std::string ignored;
            return string(ignored);
        }
        if (c == '{') return object([&](const std::string&) { return skip(); });
        if (c == '[') {
            i_++;
            if (eat(']')) return true;
            for (;;) {
                if (!skip()) return false;
                if (eat(']')) return true;
                if (!eat(',')) return false;
            }
        }
        size_t start = i_;  // number, true, false, null
        while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' &&
               s_[i_] != '\n')
            i_++;
        return i_ > start;
    }

    std::string_view s_;
    size_t i_ = 0;
};

/// A NUL-terminated copy of a secret that is wiped when it goes.
class SecretString {
public:
    explicit SecretString(std::string_view s) : s_(s) {}
    SecretString(const SecretString&) = delete;
    SecretString& operator=(const SecretString&) = delete;
    ~SecretString() {
        volatile char* p = s_.data();
        for (size_t i = 0; i < s_.size(); i++) p[i] = 0;
    }
    const char* c_str() const noexcept { return s_.c_str(); }

private:
    std::string s_;
};
}  // namespace detail

/// A thread-safe client for one credential set: a copyable handle sharing one native client
/// (see the lifetime notes at the top of this header).
/// Per-call options (oauth_request_ex's options_json): overrides of the client's configuration
/// for one request; an empty optional keeps the client's setting. A value out of the range of
/// the configuration key of the same name fails the call with ResultCode::InvalidArgument
/// naming it, before anything is sent.
struct CallOptions {
    enum class Pacing { Wait, FailFast };
    std::optional<std::chrono::milliseconds> deadline;  ///< deadline_ms: the whole call
    std::optional<std::chrono::milliseconds> timeout;   ///< timeout_ms: each attempt
    std::optional<int> max_retries;                     ///< retries after 429 / 5xx / failures
    /// Whether 502-504 and failures after sending are retried, overriding the method's default.
    std::optional<bool> idempotent;
    /// false: a 401 is the response, without dropping the token or requesting a new one.
    std::optional<bool> resend_after_401;
    /// FailFast: when pacing to the rate-limit headers would hold the call, end at once with
    /// the client-made 429 (X-Cxoauth-Paced: 1) instead of waiting.
    std::optional<Pacing> pacing;

    /// The options as the library's options_json ("{}" when none is set).
    [[nodiscard]] std::string to_json() const {
        std::string out = "{";
        auto add = [&out](const char* key, const std::string& value) {
            if (out.size() > 1) out += ",";
            out += std::string("\"") + key + "\":" + value;
        };
        auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
        if (deadline) add("deadline_ms", std::to_string(deadline->count()));
        if (timeout) add("timeout_ms", std::to_string(timeout->count()));
        if (max_retries) add("max_retries", std::to_string(*max_retries));
        if (idempotent) add("idempotent", boolean(*idempotent));
        if (resend_after_401) add("resend_after_401", boolean(*resend_after_401));
        if (pacing) add("pacing", *pacing == Pacing::FailFast ? "\"fail_fast\"" : "\"wait\"");
        return out + "}";
    }
};

class Client {
public:
#if CXOAUTH_HPP_EXCEPTIONS
    /// From a JSON configuration (see the library README); throws cxoauth::Error.
    explicit Client(const std::string& config_json) { *this = detail::unwrap(create(config_json)); }
    /// Everything from the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
    [[nodiscard]] static Client from_env() { return detail::unwrap(create_from_env()); }
#endif
    /// Non-throwing construction: the Client, or the Failure (ResultCode::Config naming the
    /// key, ...).
    [[nodiscard]] static Result<Client> create(const std::string& config_json) {
        if (detail::has_nul(config_json)) return detail::nul_failure("the configuration JSON");
        return create_impl(config_json.c_str());
    }
    [[nodiscard]] static Result<Client> create_from_env() { return create_impl(nullptr); }

    // Copies share the native client; a moved-from Client holds none (calls on it fail with
    // ResultCode::InvalidArgument). Destroying a copy destroys the native client only when
    // it is the last one.
    Client(const Client&) = default;
    Client& operator=(const Client&) = default;
    Client(Client&&) noexcept = default;
    Client& operator=(Client&&) noexcept = default;
    ~Client() = default;

#if CXOAUTH_HPP_EXCEPTIONS
    /// A valid access token (cached; one fetch for all concurrent callers).
    [[nodiscard]] std::string token() const { return detail::unwrap(try_token()); }
    [[nodiscard]] std::string token(const CancelToken& cancel) const {
        return detail::unwrap(try_token(cancel));
    }
    /// The token with its expiry (oauth_get_token_ex).
    [[nodiscard]] Token token_ex() const { return detail::unwrap(try_token_ex()); }
    [[nodiscard]] Token token_ex(const CancelToken& cancel) const {
        return detail::unwrap(try_token_ex(cancel));
    }

    /// Sends an authenticated request; returns the final response for any HTTP status.
    [[nodiscard]] Response request(std::string_view method, std::string_view path_or_url,
                                   const Headers& headers = {}, std::string_view body = {}) const {
        return detail::unwrap(try_request(method, path_or_url, headers, body));
    }
    [[nodiscard]] Response request(const CancelToken& cancel, std::string_view method,
                                   std::string_view path_or_url, const Headers& headers = {},
                                   std::string_view body = {}) const {
        return detail::unwrap(try_request(cancel, method, path_or_url, headers, body));
    }
    /// With per-call options (oauth_request_ex), e.g.
    /// `request("POST", path, headers, body, {.deadline = 2s, .idempotent = true})` (C++20) or a
    /// CallOptions filled in field by field.
    [[nodiscard]] Response request(std::string_view method, std::string_view path_or_url,
                                   const Headers& headers, std::string_view body,
                                   const CallOptions& options) const {
        return detail::unwrap(try_request(method, path_or_url, headers, body, options));
    }
    [[nodiscard]] Response request(const CancelToken& cancel, std::string_view method,
                                   std::string_view path_or_url, const Headers& headers,
                                   std::string_view body, const CallOptions& options) const {
        return detail::unwrap(try_request(cancel, method, path_or_url, headers, body, options));
    }

    /// Your own request got a 401 with `token`: if it is still the cached token it is
    /// dropped and the next call fetches a new one; an older token does nothing
    /// (compare-and-invalidate).
    void invalidate_token(std::string_view token) const {
        detail::unwrap(try_invalidate_token(token));
    }

    /// Aborts every call in flight on this client (they throw ResultCode::Cancelled); later
    /// calls run normally. Throws ResultCode::InvalidArgument on a moved-from Client.
    void cancel() const {
        oauth_result rc = oauth_cancel(native());
        if (rc != OAUTH_OK) throw Error(static_cast<ResultCode>(rc), "client is moved-from");
    }
#endif

    // Non-throwing variants: the value or the Failure, never a cxoauth::Error.
    [[nodiscard]] Result<std::string> try_token() const { return token_impl(nullptr); }
    [[nodiscard]] Result<std::string> try_token(const CancelToken& cancel) const {
        return token_impl(cancel.get());
    }
    [[nodiscard]] Result<Token> try_token_ex() const { return token_ex_impl(nullptr); }
    [[nodiscard]] Result<Token> try_token_ex(const CancelToken& cancel) const {
        return token_ex_impl(cancel.get());
    }
    [[nodiscard]] Result<Response> try_request(std::string_view method, std::string_view path_or_url,
                                               const Headers& headers = {},
                                               std::string_view body = {}) const {
        return request_impl(nullptr, method, path_or_url, headers, body);
    }
    [[nodiscard]] Result<Response> try_request(const CancelToken& cancel, std::string_view method,
                                               std::string_view path_or_url,
                                               const Headers& headers = {},
                                               std::string_view body = {}) const {
        return request_impl(cancel.get(), method, path_or_url, headers, body);
    }
    [[nodiscard]] Result<Response> try_request(std::string_view method, std::string_view path_or_url,
                                               const Headers& headers, std::string_view body,
                                               const CallOptions& options) const {
        return request_impl(nullptr, method, path_or_url, headers, body, &options);
    }
    [[nodiscard]] Result<Response> try_request(const CancelToken& cancel, std::string_view method,
                                               std::string_view path_or_url,
                                               const Headers& headers, std::string_view body,
                                               const CallOptions& options) const {
        return request_impl(cancel.get(), method, path_or_url, headers, body, &options);
    }
    [[nodiscard]] Result<Done> try_invalidate_token(std::string_view token) const {
        if (detail::has_nul(token)) return detail::nul_failure("the token");
        const std::string t(token);
        oauth_result rc = oauth_invalidate_token(native(), t.c_str());
        if (rc != OAUTH_OK) return detail::failure(rc, nullptr);
        return Done{};
    }
    /// oauth_cancel (see cancel()); an empty error_code on success.
    std::error_code try_cancel() const noexcept {
        oauth_result rc = oauth_cancel(native());
        return rc == OAUTH_OK ? std::error_code() : make_error_code(static_cast<ResultCode>(rc));
    }

    // Asynchronous calls (oauth_request_async, oauth_get_token_async): they return at once;
    // the call runs on the library's runtime, taking no thread of its own, and completes on
    // the library's completion thread (cxoauth-cb). Arguments are copied before they return.
    // A CancelToken may be given (kept alive by the call); close(), cancel() and destroying
    // the last Client copy end pending calls with ResultCode::Cancelled (the destructor waits
    // until their callbacks have run).

    using RequestCallback = std::function<void(Result<Response>)>;
    using TokenCallback = std::function<void(Result<Token>)>;

    /// Starts a request; `done` is called exactly once, later, on the completion thread
    /// (never inside this call), with the Response (any HTTP status) or the Failure. Returns a
    /// Failure, and never calls `done`, when the library refuses to start the call (invalid
    /// argument, closed or moved-from client). Completions run one after another on one
    /// thread: hand work off quickly. `done` may call the library (blocking calls included),
    /// but must not destroy the last copy of a Client whose other calls it is waiting for.
    /// An exception escaping `done` is dropped.
    Result<Done> request_async(std::string_view method, std::string_view path_or_url,
                               const Headers& headers, std::string_view body,
                               RequestCallback done) const {
        return request_callback_impl(nullptr, method, path_or_url, headers, body, std::move(done));
    }
    Result<Done> request_async(const CancelToken& cancel, std::string_view method,
                               std::string_view path_or_url, const Headers& headers,
                               std::string_view body, RequestCallback done) const {
        return request_callback_impl(&cancel, method, path_or_url, headers, body, std::move(done));
    }
    /// With per-call options (oauth_request_async_ex); a bad option is a Failure now.
    Result<Done> request_async(std::string_view method, std::string_view path_or_url,
                               const Headers& headers, std::string_view body,
                               const CallOptions& options, RequestCallback done) const {
        return request_callback_impl(nullptr, method, path_or_url, headers, body, std::move(done),
                                     &options);
    }
    Result<Done> request_async(const CancelToken& cancel, std::string_view method,
                               std::string_view path_or_url, const Headers& headers,
                               std::string_view body, const CallOptions& options,
                               RequestCallback done) const {
        return request_callback_impl(&cancel, method, path_or_url, headers, body, std::move(done),
                                     &options);
    }
    /// Starts getting a valid token (a cached one too: then without I/O, still through
    /// `done`); as request_async.
    Result<Done> token_async(TokenCallback done) const {
        return token_callback_impl(nullptr, std::move(done));
    }
    Result<Done> token_async(const CancelToken& cancel, TokenCallback done) const {
        return token_callback_impl(&cancel, std::move(done));
    }

#if CXOAUTH_HPP_EXCEPTIONS
    /// request_async as a std::future: get() returns the Response or throws cxoauth::Error
    /// (a refused call too). Many may be in flight at once.
    [[nodiscard]] std::future<Response> request_async(std::string_view method,
                                                      std::string_view path_or_url,
                                                      const Headers& headers = {},
                                                      std::string_view body = {}) const {
        return request_future_impl(nullptr, method, path_or_url, headers, body);
    }
    [[nodiscard]] std::future<Response> request_async(const CancelToken& cancel,
                                                      std::string_view method,
                                                      std::string_view path_or_url,
                                                      const Headers& headers = {},
                                                      std::string_view body = {}) const {
        return request_future_impl(&cancel, method, path_or_url, headers, body);
    }
    /// With per-call options (oauth_request_async_ex).
    [[nodiscard]] std::future<Response> request_async(std::string_view method,
                                                      std::string_view path_or_url,
                                                      const Headers& headers,
                                                      std::string_view body,
                                                      const CallOptions& options) const {
        return request_future_impl(nullptr, method, path_or_url, headers, body, &options);
    }
    /// token_async as a std::future<Token> (the token with its expiry).
    [[nodiscard]] std::future<Token> token_async() const { return token_future_impl(nullptr); }
    [[nodiscard]] std::future<Token> token_async(const CancelToken& cancel) const {
        return token_future_impl(&cancel);
    }

    /// The client's counters and state (oauth_client_stats; no I/O).
    [[nodiscard]] Stats stats() const { return detail::unwrap(try_stats()); }
    /// The same as the library's JSON object.
    [[nodiscard]] std::string stats_json() const { return detail::unwrap(try_stats_json()); }
    /// The client's metrics (oauth_client_metrics; no I/O): "prometheus" (text exposition
    /// 0.0.4) or "json" (the same samples).
    [[nodiscard]] std::string metrics(std::string_view format = "prometheus") const {
        return detail::unwrap(try_metrics(format));
    }
    /// Calls `sink(event)` for the client's token events (fetched, refresh failed,
    /// invalidated, rate limited / cleared, shared cache down / up) on the library's
    /// completion thread, one at a time, in order: keep it short. An exception it throws is
    /// swallowed. An empty sink turns events off; when this returns, the previous sink is not
    /// running and is not called again.
    void on_event(EventSink sink) const { detail::unwrap(try_on_event(std::move(sink))); }
    /// Replaces the client id and secret (secret rotation): the next token fetch uses them;
    /// the cached token stays valid until then (invalidate_token switches at once).
    void set_credentials(std::string_view client_id, std::string_view client_secret) const {
        detail::unwrap(try_set_credentials(client_id, client_secret));
    }
    /// NICE CXone: replaces the client credentials and the access key; ResultCode::
    /// InvalidArgument for a client whose grant uses no access key (Genesys, generic).
    void set_access_key(std::string_view client_id, std::string_view client_secret,
                        std::string_view access_key_id, std::string_view access_key_secret) const {
        detail::unwrap(try_set_access_key(client_id, client_secret, access_key_id, access_key_secret));
    }
#endif

    [[nodiscard]] Result<std::string> try_metrics(std::string_view format) const {
        if (detail::has_nul(format)) return detail::nul_failure("the format");
        const std::string f(format);
        char* raw = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_metrics(native(), f.c_str(), &raw, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        std::unique_ptr<char, void (*)(char*)> guard(raw, oauth_string_free);
        return std::string(raw);
    }
    [[nodiscard]] Result<Done> try_on_event(EventSink sink) const {
        if (!owner_) {
            Failure f;
            f.code = ResultCode::InvalidArgument;
            f.message = "a moved-from Client";
            return f;
        }
        std::shared_ptr<EventSink> keep;
        if (sink) keep = std::make_shared<EventSink>(std::move(sink));
        std::lock_guard<std::mutex> lock(owner_->events_mu);
        oauth_result rc = oauth_set_event_callback(
            native(), keep ? detail::event_trampoline : nullptr, keep.get());
        if (rc != OAUTH_OK) {
            Failure f;
            f.code = static_cast<ResultCode>(rc);
            f.message = "oauth_set_event_callback failed";
            return f;
        }
        owner_->events[1] = std::move(owner_->events[0]);
        owner_->events[0] = std::move(keep);
        return Done{};
    }
    [[nodiscard]] Result<std::string> try_stats_json() const {
        char* raw = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_stats(native(), &raw, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        std::unique_ptr<char, void (*)(char*)> guard(raw, oauth_string_free);
        return std::string(raw);
    }
    [[nodiscard]] Result<Stats> try_stats() const {
        auto json = try_stats_json();
        if (!json) return json.error();
        Stats st;
        if (!detail::StatsParser(*json).parse(st)) {
            Failure f;
            f.code = ResultCode::Protocol;
            f.message = "cannot decode oauth_client_stats";
            return f;
        }
        st.json = std::move(*json);
        return st;
    }
    [[nodiscard]] Result<Done> try_set_credentials(std::string_view client_id,
                                                   std::string_view client_secret) const {
        if (detail::has_nul(client_id) || detail::has_nul(client_secret))
            return detail::nul_failure("a credential");
        const detail::SecretString id(client_id), secret(client_secret);
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_set_credentials(native(), id.c_str(), secret.c_str(), &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        return Done{};
    }
    [[nodiscard]] Result<Done> try_set_access_key(std::string_view client_id,
                                                  std::string_view client_secret,
                                                  std::string_view access_key_id,
                                                  std::string_view access_key_secret) const {
        if (detail::has_nul(client_id) || detail::has_nul(client_secret) ||
            detail::has_nul(access_key_id) || detail::has_nul(access_key_secret))
            return detail::nul_failure("a credential");
        const detail::SecretString id(client_id), secret(client_secret), key_id(access_key_id),
            key_secret(access_key_secret);
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_set_access_key(native(), id.c_str(), secret.c_str(),
                                                      key_id.c_str(), key_secret.c_str(), &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        return Done{};
    }

    /// Shuts the native client down for every copy (oauth_close): calls in flight end
    /// promptly with ResultCode::Cancelled, every later call fails with ResultCode::Closed.
    /// Safe from any thread, concurrently with calls, any number of times; does not wait
    /// for the calls in flight. The memory is freed when the last copy goes. A no-op on a
    /// moved-from Client.
    void close() const noexcept {
        if (owner_) oauth_close(owner_->get());
    }

    /// The native handle, valid while this Client (or a copy) lives. Do not oauth_free it.
    [[nodiscard]] oauth_client* native() const noexcept { return owner_ ? owner_->get() : nullptr; }

private:
    Client() = default;

    static Result<Client> create_impl(const char* json) {
        oauth_client* c = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_new(json, &c, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        Client client;
#if CXOAUTH_HPP_EXCEPTIONS
        try {
            client.owner_ = std::make_shared<detail::ClientOwner>(c);
        } catch (...) {
            oauth_free(c);
            throw;
        }
#else
        client.owner_ = std::make_shared<detail::ClientOwner>(c);
#endif
        return client;
    }

    Result<std::string> token_impl(const oauth_cancel_token* cancel) const {
        char* raw = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_get_token_cancellable(native(), cancel, &raw, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        std::unique_ptr<char, void (*)(char*)> guard(raw, oauth_string_free);
        return std::string(raw);
    }

    Result<Token> token_ex_impl(const oauth_cancel_token* cancel) const {
        char* raw = nullptr;
        uint64_t ms = 0;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_get_token_ex(native(), cancel, &raw, &ms, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        std::unique_ptr<char, void (*)(char*)> guard(raw, oauth_string_free);
        return Token{std::string(raw), detail::from_unix_ms(ms)};
    }

    /// options_json for oauth_request_ex / oauth_request_async_ex (empty: none).
    static std::string options_json(const CallOptions* options) {
        return options ? options->to_json() : std::string();
    }
    static const char* options_ptr(const std::string& json) {
        return json.empty() ? nullptr : json.c_str();
    }

    Result<Response> request_impl(const oauth_cancel_token* cancel, std::string_view method,
                                  std::string_view path, const Headers& headers,
                                  std::string_view body,
                                  const CallOptions* options = nullptr) const {
        const detail::RequestArgs args(method, path, headers);
        if (args.nul) return detail::nul_failure(args.nul);
        const std::string opts = options_json(options);
        oauth_response* resp = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_request_ex(
            native(), args.method.c_str(), args.path.c_str(), args.ptrs.data(),
            reinterpret_cast<const uint8_t*>(body.data()), body.size(), options_ptr(opts), cancel,
            &resp, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        return Response(resp);
    }
    static std::shared_ptr<oauth_cancel_token> cancel_of(const CancelToken* c) {
        return c ? c->token_ : nullptr;
    }

    Result<Done> request_callback_impl(const CancelToken* cancel, std::string_view method,
                                       std::string_view path, const Headers& headers,
                                       std::string_view body, RequestCallback done,
                                       const CallOptions* options = nullptr) const {
        const detail::RequestArgs args(method, path, headers);
        if (args.nul) return detail::nul_failure(args.nul);  // done is never called
        const std::string opts = options_json(options);
        auto call = std::make_unique<detail::CallbackCall<Response>>();
        call->fn = std::move(done);
        call->cancel = cancel_of(cancel);
        const oauth_cancel_token* tok = call->cancel.get();
        oauth_result rc = oauth_request_async_ex(
            native(), args.method.c_str(), args.path.c_str(), args.ptrs.data(),
            reinterpret_cast<const uint8_t*>(body.data()), body.size(), options_ptr(opts), tok,
            detail::request_done_callback, call.get());
        if (rc != OAUTH_OK) return detail::rejected(rc);  // done is never called: call is freed
        call.release();  // owned by the library until request_done_callback
        return Done{};
    }

    Result<Done> token_callback_impl(const CancelToken* cancel, TokenCallback done) const {
        auto call = std::make_unique<detail::CallbackCall<Token>>();
        call->fn = std::move(done);
        call->cancel = cancel_of(cancel);
        const oauth_cancel_token* tok = call->cancel.get();
        oauth_result rc =
            oauth_get_token_async(native(), tok, detail::token_done_callback, call.get());
        if (rc != OAUTH_OK) return detail::rejected(rc);
        call.release();
        return Done{};
    }

#if CXOAUTH_HPP_EXCEPTIONS
    std::future<Response> request_future_impl(const CancelToken* cancel, std::string_view method,
                                              std::string_view path, const Headers& headers,
                                              std::string_view body,
                                              const CallOptions* options = nullptr) const {
        const detail::RequestArgs args(method, path, headers);
        const std::string opts = options_json(options);
        auto call = std::make_unique<detail::PromiseCall<Response>>();
        call->cancel = cancel_of(cancel);
        std::future<Response> f = call->promise.get_future();
        if (args.nul) {
            call->promise.set_exception(std::make_exception_ptr(Error(detail::nul_failure(args.nul))));
            return f;
        }
        const oauth_cancel_token* tok = call->cancel.get();
        oauth_result rc = oauth_request_async_ex(
            native(), args.method.c_str(), args.path.c_str(), args.ptrs.data(),
            reinterpret_cast<const uint8_t*>(body.data()), body.size(), options_ptr(opts), tok,
            detail::request_done_promise, call.get());
        if (rc != OAUTH_OK)
            call->promise.set_exception(std::make_exception_ptr(Error(detail::rejected(rc))));
        else
            call.release();  // done fulfils the promise and frees the call
        return f;
    }

    std::future<Token> token_future_impl(const CancelToken* cancel) const {
        auto call = std::make_unique<detail::PromiseCall<Token>>();
        call->cancel = cancel_of(cancel);
        std::future<Token> f = call->promise.get_future();
        const oauth_cancel_token* tok = call->cancel.get();
        oauth_result rc =
            oauth_get_token_async(native(), tok, detail::token_done_promise, call.get());
        if (rc != OAUTH_OK)
            call->promise.set_exception(std::make_exception_ptr(Error(detail::rejected(rc))));
        else
            call.release();
        return f;
    }
#endif

    std::shared_ptr<detail::ClientOwner> owner_;
};

/// Sends the library's log lines, process-wide (every client), to `sink`: lines at
/// `min_level` and more severe (Error .. Debug) tell of token fetches (lifetime, never the
/// token), failed refreshes and their cause, 401 -> new token, 429 waits, retries, fork
/// detection; never a secret or a token. The message is valid during the call only. `sink`
/// is called from library threads, possibly concurrently: keep it short and thread-safe, do
/// not call the library from it, do not throw (an exception is dropped). An empty `sink`
/// turns logging off (the default: the library never writes to stdout or stderr). Replacing
/// the sink is safe at any time; a line being delivered may still reach the old one, which is
/// kept alive until then. Returns the library's error code, empty on success.
inline std::error_code set_log_sink(LogSink sink, LogLevel min_level = LogLevel::Info) {
    detail::LogSlot& slot = detail::log_slot();
    std::lock_guard<std::mutex> order(slot.setmu);
    std::shared_ptr<const LogSink> next;
    if (sink) next = std::make_shared<const LogSink>(std::move(sink));
    oauth_result rc;
    if (next) {
        {
            std::lock_guard<std::mutex> lock(slot.mu);
            slot.sink = std::move(next);
        }
        rc = oauth_set_log_callback(static_cast<uint32_t>(min_level), detail::log_trampoline,
                                    nullptr);
    } else {
        rc = oauth_set_log_callback(0, nullptr, nullptr);
        std::shared_ptr<const LogSink> old;
        {
            std::lock_guard<std::mutex> lock(slot.mu);
            old = std::exchange(slot.sink, nullptr);
        }
        // old is destroyed here, outside the lock (a delivering thread may hold its own copy)
    }
    return rc == OAUTH_OK ? std::error_code() : make_error_code(static_cast<ResultCode>(rc));
}

/// The native library's version.
[[nodiscard]] inline std::string version() { return oauth_version(); }

}  // namespace cxoauth

template <>
struct std::is_error_code_enum<cxoauth::ResultCode> : std::true_type {};

#endif  // CXOAUTH_HPP
