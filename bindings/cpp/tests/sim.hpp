// Test support: starts the cxoauth simulator (CXOAUTH_SIM_BIN) and talks to its admin API
// over a loopback socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

// Also used by the suite built with -fno-exceptions: failures abort there.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define SIM_FAIL(msg) throw std::runtime_error(msg)
#else
#define SIM_FAIL(msg) (std::fprintf(stderr, "sim: %s\n", msg), std::abort())
#endif

inline const char* kClientId = "test-client";
inline const char* kSecret = "s3cr:/+=%&et value";

class Sim {
public:
    void start() {
        const char* bin = std::getenv("CXOAUTH_SIM_BIN");
        if (!bin) SIM_FAIL("CXOAUTH_SIM_BIN is not set");
        char dir[] = "/tmp/cxoauth-cpp-XXXXXX";
        if (!mkdtemp(dir)) SIM_FAIL("mkdtemp");
        port_file_ = std::string(dir) + "/port";
        std::string client = std::string(kClientId) + ":" + kSecret;
        pid_ = fork();
        if (pid_ == 0) {
            execl(bin, bin, "--port", "0", "--port-file", port_file_.c_str(), "--client",
                  client.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        for (;;) {  // readiness: the port file appears once the simulator listens
            std::ifstream f(port_file_);
            if (f >> port_ && port_ > 0) break;
            int st;
            if (waitpid(pid_, &st, WNOHANG) == pid_) SIM_FAIL("simulator exited");
            if (std::chrono::steady_clock::now() > deadline)
                SIM_FAIL("simulator did not become ready");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

    int port() const { return port_; }
    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

    std::string config(const std::string& extra = "") const {
        return "{\"token_url\":\"" + base() + "/oauth/token\",\"api_base\":\"" + base() +
               "\",\"client_id\":\"" + kClientId + "\",\"client_secret\":\"" + kSecret +
               "\",\"backoff_base_ms\":20,\"backoff_max_ms\":200" +
               (extra.empty() ? "" : "," + extra) + "}";
    }

    /// One admin request; returns {status, body}.
    std::pair<int, std::string> admin(const std::string& method, const std::string& path,
                                      const std::string& body = "") const {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            close(fd);
            SIM_FAIL("cannot connect to the simulator");
        }
        std::string req = method + " /__admin/" + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
        if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
            close(fd);
            SIM_FAIL("write");
        }
        std::string resp;
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
        close(fd);
        int status = std::atoi(resp.c_str() + 9);
        auto pos = resp.find("\r\n\r\n");
        return {status, pos == std::string::npos ? "" : resp.substr(pos + 4)};
    }

    void reset() const { admin("POST", "reset"); }
    void token_lifetime(int seconds) const {
        admin("POST", "config", "{\"token_lifetime_s\":" + std::to_string(seconds) + "}");
    }
    void fault(const std::string& json) const {
        if (admin("POST", "faults", json).first != 204) SIM_FAIL("fault rejected");
    }
    long counter(const std::string& name) const {
        auto body = admin("GET", "counters").second;
        auto key = "\"" + name + "\":";
        auto pos = body.find(key);
        return pos == std::string::npos ? -1 : std::atol(body.c_str() + pos + key.size());
    }

private:
    pid_t pid_ = -1;
    int port_ = 0;
    std::string port_file_;
};
