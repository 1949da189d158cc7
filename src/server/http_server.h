// A small HTTP/1.1 server on Boost.Beast (synchronous, one thread per connection, keep-alive).
// Limits: request header bytes, body bytes (enforced by Beast's parser for Content-Length and
// chunked bodies alike: an oversized body is refused with 413 before it is buffered), idle time
// between requests, concurrent connections. A refusal is answered so the client can read it while it
// is still sending: the response, then a half-close, then the rest of the request read and thrown
// away (at most drain_bytes, for at most drain_seconds) before the socket closes. Handlers see a plain HttpRequest and answer through
// a Responder, either with one whole response or with a server-sent event stream; the Responder
// tells them when the client has gone, so they can cancel its work.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mla::server {

struct HttpLimits {
  size_t header_bytes = 16 * 1024;
  size_t body_bytes = 4 * 1024 * 1024;
  int idle_seconds = 60;     // a keep-alive connection idle longer is closed
  int write_seconds = 30;    // a client that takes no data for this long is dropped
  int max_connections = 512;  // more are answered 503 and closed
  // After a refusal (413, 431, 400): how much of the rest of the request is read and discarded, and
  // for how long, before the connection closes (closing with unread data resets it, and the client
  // may lose the answer); the bounds keep a slow or endless sender from holding the thread.
  size_t drain_bytes = 64 * 1024 * 1024;
  int drain_seconds = 5;
};

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // the target without its query string
  std::string authorization;  // the Authorization header ("" if absent)
  std::string content_type;
  std::string body;
};

class Responder {
 public:
  virtual ~Responder() = default;
  // One whole response.
  virtual void send(int status, std::string_view content_type, std::string_view body) = 0;
  // A text/event-stream response: event() writes "data: <data>\n\n"; false once the client is gone.
  virtual bool begin_events() = 0;
  virtual bool event(std::string_view data) = 0;
  virtual void end_events() = 0;
  // True when the peer closed its end (checked without blocking).
  virtual bool client_gone() = 0;
};

using Handler = std::function<void(const HttpRequest&, Responder&)>;
// Called for every answered request with its status (for metrics).
using StatusHook = std::function<void(int status)>;

class HttpServer {
 public:
  // Binds and listens now (throws mla::Error naming host:port); port 0 picks a free port.
  HttpServer(const std::string& host, uint16_t port, const HttpLimits& limits, Handler handler,
             StatusHook on_status = {});
  ~HttpServer();
  uint16_t port() const;
  // Accepts connections forever, each served on its own detached thread (the process ends on a
  // signal; the server object must live until then).
  [[noreturn]] void run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mla::server
