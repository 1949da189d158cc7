#include "server/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "core/error.h"

namespace mla::server {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

void set_timeout(tcp::socket& sock, int option, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(sock.native_handle(), SOL_SOCKET, option, &tv, sizeof tv);
}

// The plain-text body of a refusal the HTTP layer makes itself (before any handler runs).
std::string error_body(const std::string& message, const std::string& code) {
  return "{\"error\":{\"message\":\"" + message + "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"" +
         code + "\"}}";
}

class BeastResponder : public Responder {
 public:
  BeastResponder(tcp::socket& sock, unsigned version, bool keep_alive, const StatusHook& hook)
      : sock_(sock), version_(version), keep_alive_(keep_alive), hook_(hook) {}

  void send(int status, std::string_view content_type, std::string_view body) override {
    http::response<http::string_body> res{static_cast<http::status>(status), version_};
    res.set(http::field::server, "mla");
    res.set(http::field::content_type, content_type);
    res.keep_alive(keep_alive_);
    res.body() = std::string(body);
    res.prepare_payload();
    boost::beast::error_code ec;
    http::write(sock_, res, ec);
    if (ec) keep_alive_ = false;
    answered(status);
  }

  bool begin_events() override {
    http::response<http::empty_body> res{http::status::ok, version_};
    res.set(http::field::server, "mla");
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(keep_alive_);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    boost::beast::error_code ec;
    http::write_header(sock_, sr, ec);
    answered(200);
    return ok(ec);
  }

  bool event(std::string_view data) override {
    if (broken_) return false;
    std::string frame = "data: ";
    frame.append(data);
    frame += "\n\n";
    boost::beast::error_code ec;
    net::write(sock_, http::make_chunk(net::buffer(frame)), ec);
    return ok(ec);
  }

  void end_events() override {
    if (broken_) return;
    boost::beast::error_code ec;
    net::write(sock_, http::make_chunk_last(), ec);
    ok(ec);
  }

  bool client_gone() override {
    if (broken_) return true;
    pollfd p{sock_.native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return broken();
    char c;
    // Readable: either a pipelined next request (not gone) or end of stream (gone).
    if (::recv(sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return broken();
    return false;
  }

  bool keep_alive() const { return keep_alive_ && !broken_; }
  bool answered() const { return answered_; }

 private:
  bool broken() {
    broken_ = true;
    return true;
  }
  bool ok(const boost::beast::error_code& ec) {
    if (ec) broken_ = true;
    return !broken_;
  }
  void answered(int status) {
    answered_ = true;
    if (hook_) hook_(status);
  }

  tcp::socket& sock_;
  unsigned version_;
  bool keep_alive_;
  const StatusHook& hook_;
  bool broken_ = false, answered_ = false;
};

}  // namespace

struct HttpServer::Impl {
  HttpLimits limits;
  Handler handler;
  StatusHook on_status;
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<int> connections{0};

  void refuse(tcp::socket& sock, http::status status, const std::string& message, const std::string& code) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::server, "mla");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);  // "Connection: close"
    res.body() = error_body(message, code);
    res.prepare_payload();
    boost::beast::error_code ec;
    http::write(sock, res, ec);
    if (on_status) on_status(static_cast<int>(status));
  }

  // Ends a connection whose request was refused while the client may still be sending it (a 20 MB
  // body refused after its header). Closing a socket with unread bytes in its receive queue makes
  // the kernel send RST, and a client still writing then sees "connection reset" and never reads the
  // 413 already sent. So: half-close (the client reads the answer, then end of stream), then read
  // and discard whatever still arrives until the client closes its end, or drain_bytes were read, or
  // drain_seconds passed (a slowloris cannot hold this thread), then close.
  void drain_and_close(tcp::socket& sock) {
    boost::beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_send, ec);
    const int fd = sock.native_handle();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limits.drain_seconds);
    std::vector<char> discard(64 * 1024);
    size_t drained = 0;
    while (drained < limits.drain_bytes) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      const ssize_t n = ::recv(fd, discard.data(), std::min(discard.size(), limits.drain_bytes - drained), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) break;  // the client closed its end (or the connection failed)
      drained += static_cast<size_t>(n);
    }
    sock.close(ec);
  }

  void serve(tcp::socket sock) {
    set_timeout(sock, SO_RCVTIMEO, limits.idle_seconds);
    set_timeout(sock, SO_SNDTIMEO, limits.write_seconds);
    boost::beast::flat_buffer buf;
    bool refused = false;  // a refusal ends the connection through drain_and_close
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
      parser.body_limit(limits.body_bytes);
      boost::beast::error_code ec;
      http::read_header(sock, buf, parser, ec);
      if (!ec && parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        http::write(sock, cont, ec);
      }
      if (!ec && !parser.is_done()) http::read(sock, buf, parser, ec);
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
          ec == net::error::would_block || ec == net::error::timed_out)
        break;
      if (ec == http::error::body_limit) {
        refuse(sock, http::status::payload_too_large,
               "the request body is larger than " + std::to_string(limits.body_bytes) + " bytes", "body_too_large");
        refused = true;
        break;
      }
      if (ec == http::error::header_limit) {
        refuse(sock, http::status::request_header_fields_too_large,
               "the request header is larger than " + std::to_string(limits.header_bytes) + " bytes",
               "header_too_large");
        refused = true;
        break;
      }
      if (ec) {
        refuse(sock, http::status::bad_request, "malformed HTTP request", "bad_http");
        refused = true;
        break;
      }
      const auto& req = parser.get();
      HttpRequest r;
      r.method = std::string(req.method_string());
      const std::string_view target = req.target();
      r.path = std::string(target.substr(0, target.find('?')));
      r.authorization = std::string(req[http::field::authorization]);
      r.content_type = std::string(req[http::field::content_type]);
      r.body = std::move(parser.get().body());
      BeastResponder resp(sock, req.version(), req.keep_alive(), on_status);
      handler(r, resp);
      if (!resp.answered()) resp.send(500, "application/json", error_body("no response", "internal_error"));
      if (!resp.keep_alive()) break;
    }
    if (refused) return drain_and_close(sock);
    boost::beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_send, ec);
    sock.close(ec);
  }
};

HttpServer::HttpServer(const std::string& host, uint16_t port, const HttpLimits& limits, Handler handler,
                       StatusHook on_status)
    : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->handler = std::move(handler);
  impl_->on_status = std::move(on_status);
  boost::system::error_code ec;
  const auto addr = net::ip::make_address(host, ec);
  if (ec) fail("--host: '", host, "' is not an IP address");
  const tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on ", host, ":", port, ": ", ec.message());
}

HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::run() {
  Impl* im = impl_.get();
  for (;;) {
    tcp::socket sock(im->io);
    boost::system::error_code ec;
    im->acceptor.accept(sock, ec);
    if (ec) {  // e.g. out of file descriptors: wait instead of spinning
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (im->connections.fetch_add(1) >= im->limits.max_connections) {
      im->refuse(sock, http::status::service_unavailable, "too many connections", "too_many_connections");
      im->connections.fetch_sub(1);
      continue;
    }
    std::thread([im, s = std::move(sock)]() mutable {
      im->serve(std::move(s));
      im->connections.fetch_sub(1);
    }).detach();
  }
}

}  // namespace mla::server
