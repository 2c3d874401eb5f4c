// cxoauth.hpp: header-only C++17 wrapper of the cxoauth C ABI.
//
//   cxoauth::Client client(R"({"region":"eu-central-1"})");   // or Client::from_env()
//   std::string token = client.token();
//   cxoauth::Response r = client.request("GET", "/api/v2/organizations/me");
//   std::cout << r.status() << " " << r.body() << "\n";
//
// Errors are thrown as cxoauth::Error (code, HTTP status, OAuth code, correlation id). The
// try_* members (Client::create, try_token, try_token_ex, try_request, try_invalidate_token)
// never throw cxoauth::Error: they return a cxoauth::Result<T> holding the value or a Failure
// (with a std::error_code in cxoauth::error_category()). Compiled without exceptions
// (-fno-exceptions), only those are available (the throwing members are left out).
//
//   auto c = cxoauth::Client::create(json);            // Result<Client>
//   if (!c) { log(c.error().message); return; }
//   auto r = c->try_request("GET", "/api/v2/organizations/me");
//   if (r) use(r->status(), r->headers());            // Result<Response>
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
#include <memory>
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

/// Owns one oauth_client*, shared by all copies of a Client: the last copy to go destroys it,
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

/// Per-call cancellation: pass to Client::token / Client::request, cancel() from any thread.
class CancelToken {
public:
    /// Throws cxoauth::Error if the token cannot be made (only when out of memory); built
    /// without exceptions, that aborts instead.
    CancelToken() {
        oauth_error* err = nullptr;
        oauth_result rc = oauth_cancel_token_new(&token_, &err);
#if CXOAUTH_HPP_EXCEPTIONS
        detail::check(rc, err);
#else
        if (rc != OAUTH_OK) std::abort();
#endif
    }
    CancelToken(CancelToken&& o) noexcept : token_(std::exchange(o.token_, nullptr)) {}
    CancelToken& operator=(CancelToken&& o) noexcept {
        if (this != &o) {
            oauth_cancel_token_free(token_);
            token_ = std::exchange(o.token_, nullptr);
        }
        return *this;
    }
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;
    ~CancelToken() { oauth_cancel_token_free(token_); }

    /// Aborts every call given this token, now and later. Thread-safe.
    void cancel() const noexcept { oauth_cancel_token_cancel(token_); }
    [[nodiscard]] const oauth_cancel_token* get() const noexcept { return token_; }

private:
    oauth_cancel_token* token_ = nullptr;
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

/// A thread-safe client for one credential set: a copyable handle sharing one native client
/// (see the lifetime notes at the top of this header).
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
    [[nodiscard]] Result<Done> try_invalidate_token(std::string_view token) const {
        if (token.find('\0') != std::string_view::npos)
            return detail::failure(OAUTH_ERR_INVALID_ARGUMENT, nullptr);
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
        return Token{std::string(raw),
                     std::chrono::system_clock::time_point(std::chrono::duration_cast<
                         std::chrono::system_clock::duration>(std::chrono::milliseconds(ms)))};
    }

    Result<Response> request_impl(const oauth_cancel_token* cancel, std::string_view method,
                                  std::string_view path, const Headers& headers,
                                  std::string_view body) const {
        std::vector<std::string> lines;
        lines.reserve(headers.size());
        for (const auto& [name, value] : headers) lines.push_back(name + ": " + value);
        std::vector<const char*> ptrs;
        ptrs.reserve(lines.size() + 1);
        for (const auto& l : lines) ptrs.push_back(l.c_str());
        ptrs.push_back(nullptr);
        const std::string m(method), p(path);
        oauth_response* resp = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_request_cancellable(
            native(), cancel, m.c_str(), p.c_str(), ptrs.data(),
            reinterpret_cast<const uint8_t*>(body.data()), body.size(), &resp, &err);
        if (rc != OAUTH_OK) return detail::failure(rc, err);
        return Response(resp);
    }

    std::shared_ptr<detail::ClientOwner> owner_;
};

/// The native library's version.
[[nodiscard]] inline std::string version() { return oauth_version(); }

}  // namespace cxoauth

template <>
struct std::is_error_code_enum<cxoauth::ResultCode> : std::true_type {};

#endif  // CXOAUTH_HPP
