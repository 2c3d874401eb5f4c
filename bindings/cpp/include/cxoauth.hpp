// cxoauth.hpp: header-only C++17 wrapper of the cxoauth C ABI.
//
//   cxoauth::Client client(R"({"region":"eu-central-1"})");   // or Client::from_env()
//   std::string token = client.token();
//   cxoauth::Response r = client.request("GET", "/api/v2/organizations/me");
//   std::cout << r.status() << " " << r.body() << "\n";
//
// Errors are thrown as cxoauth::Error (code, HTTP status, OAuth code, correlation id).
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

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cxoauth.h"

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

    ResultCode code() const noexcept { return code_; }
    uint16_t http_status() const noexcept { return http_status_; }
    const std::optional<std::string>& oauth_code() const noexcept { return oauth_code_; }
    const std::optional<std::string>& correlation_id() const noexcept { return correlation_id_; }

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

/// Throws the Error for a failed call, freeing the native error.
[[noreturn]] inline void throw_error(oauth_result rc, oauth_error* err) {
    std::unique_ptr<oauth_error, void (*)(oauth_error*)> guard(err, oauth_error_free);
    throw Error(static_cast<ResultCode>(rc), oauth_error_message(err),
                oauth_error_http_status(err), opt(oauth_error_oauth_code(err)),
                opt(oauth_error_correlation_id(err)));
}

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

// Call as `oauth_result rc = f(..., &err); check(rc, err);` — never `check(f(&err), err)`:
// the order in which function arguments are evaluated is unspecified.
inline void check(oauth_result rc, oauth_error* err) {
    if (rc != OAUTH_OK) throw_error(rc, err);
}
}  // namespace detail

/// Per-call cancellation: pass to Client::token / Client::request, cancel() from any thread.
class CancelToken {
public:
    CancelToken() {
        oauth_error* err = nullptr;
        oauth_result rc = oauth_cancel_token_new(&token_, &err);
        detail::check(rc, err);
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
    const oauth_cancel_token* get() const noexcept { return token_; }

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

    int status() const noexcept { return oauth_response_status(r_); }
    /// The body; valid while this Response lives.
    std::string_view body() const noexcept {
        size_t len = 0;
        const uint8_t* p = oauth_response_body(r_, &len);
        return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
    }
    /// A header value (case-insensitive name); valid while this Response lives.
    std::optional<std::string_view> header(std::string_view name) const {
        const char* v = oauth_response_header(r_, std::string(name).c_str());
        return v ? std::optional<std::string_view>(v) : std::nullopt;
    }

private:
    oauth_response* r_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// A thread-safe client for one credential set: a copyable handle sharing one native client
/// (see the lifetime notes at the top of this header).
class Client {
public:
    /// From a JSON configuration (see the library README).
    explicit Client(const std::string& config_json) { init(config_json.c_str()); }
    /// Everything from the environment (GENESYSCLOUD_OAUTHCLIENT_ID, ...).
    static Client from_env() { return Client(nullptr); }

    // Copies share the native client; a moved-from Client holds none (calls on it throw
    // ResultCode::InvalidArgument). Destroying a copy destroys the native client only when
    // it is the last one.
    Client(const Client&) = default;
    Client& operator=(const Client&) = default;
    Client(Client&&) noexcept = default;
    Client& operator=(Client&&) noexcept = default;
    ~Client() = default;

    /// A valid access token (cached; one fetch for all concurrent callers).
    std::string token() const { return token_impl(nullptr); }
    std::string token(const CancelToken& cancel) const { return token_impl(cancel.get()); }

    /// Sends an authenticated request; returns the final response for any HTTP status.
    Response request(std::string_view method, std::string_view path_or_url,
                     const Headers& headers = {}, std::string_view body = {}) const {
        return request_impl(nullptr, method, path_or_url, headers, body);
    }
    Response request(const CancelToken& cancel, std::string_view method,
                     std::string_view path_or_url, const Headers& headers = {},
                     std::string_view body = {}) const {
        return request_impl(cancel.get(), method, path_or_url, headers, body);
    }

    /// Aborts every call in flight on this client (they throw ResultCode::Cancelled); later
    /// calls run normally. Throws ResultCode::InvalidArgument on a moved-from Client.
    void cancel() const {
        oauth_result rc = oauth_cancel(native());
        if (rc != OAUTH_OK) throw Error(static_cast<ResultCode>(rc), "client is moved-from");
    }

    /// Shuts the native client down for every copy (oauth_close): calls in flight end
    /// promptly with ResultCode::Cancelled, every later call throws ResultCode::Closed.
    /// Safe from any thread, concurrently with calls, any number of times; does not wait
    /// for the calls in flight. The memory is freed when the last copy goes. A no-op on a
    /// moved-from Client.
    void close() const noexcept {
        if (owner_) oauth_close(owner_->get());
    }

    /// The native handle, valid while this Client (or a copy) lives. Do not oauth_free it.
    oauth_client* native() const noexcept { return owner_ ? owner_->get() : nullptr; }

private:
    explicit Client(std::nullptr_t) { init(nullptr); }

    void init(const char* json) {
        oauth_client* c = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_client_new(json, &c, &err);
        detail::check(rc, err);
        try {
            owner_ = std::make_shared<detail::ClientOwner>(c);
        } catch (...) {
            oauth_free(c);
            throw;
        }
    }

    std::string token_impl(const oauth_cancel_token* cancel) const {
        char* raw = nullptr;
        oauth_error* err = nullptr;
        oauth_result rc = oauth_get_token_cancellable(native(), cancel, &raw, &err);
        detail::check(rc, err);
        std::unique_ptr<char, void (*)(char*)> guard(raw, oauth_string_free);
        return std::string(raw);
    }

    Response request_impl(const oauth_cancel_token* cancel, std::string_view method,
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
        detail::check(rc, err);
        return Response(resp);
    }

    std::shared_ptr<detail::ClientOwner> owner_;
};

/// The native library's version.
inline std::string version() { return oauth_version(); }

}  // namespace cxoauth

#endif  // CXOAUTH_HPP
