#include "asio_bypass/bypass_service.hpp"

#include <algorithm>

#include <asio/post.hpp>
#include <utility>

#include "asio_bypass/udp_socket.hpp"
#include "trace/clock.hpp"

namespace ringlab::bypass {

asio::execution_context::id bypass_service::id;

std::string_view to_string(drive_mode m) noexcept {
  switch (m) {
    case drive_mode::busy_poll: return "busy_poll";
    case drive_mode::wait_fd: return "wait_fd";
    case drive_mode::manual: return "manual";
  }
  return "?";
}

std::optional<drive_mode> parse_drive_mode(std::string_view s) noexcept {
  if (s == "busy_poll" || s == "busy" || s == "poll") return drive_mode::busy_poll;
  if (s == "wait_fd" || s == "fd") return drive_mode::wait_fd;
  if (s == "manual") return drive_mode::manual;
  return std::nullopt;
}

bypass_service::bypass_service(asio::io_context& ctx) : asio::execution_context::service(ctx), ctx_(ctx) {}

bypass_service::~bypass_service() { shutdown(); }

std::error_code bypass_service::attach(port::any_port& port, lane_config cfg) {
  if (ifc_) return std::make_error_code(std::errc::already_connected);
  port_ = &port;
  cfg_ = std::move(cfg);
  ifc_ = std::make_unique<stack::interface>(port, cfg_.iface);
  return {};
}

stack::time_ns bypass_service::now() const noexcept { return cfg_.clock ? cfg_.clock() : trace::monotonic_ns(); }

void bypass_service::start() {
  if (running_ || !ifc_ || shut_down_) return;
  running_ = true;
  if (cfg_.drive == drive_mode::manual) return;
  if (cfg_.drive == drive_mode::wait_fd) {
    const int fd = port_->caps().wait_fd;
    if (fd < 0) {
      fallback_ = "port '" + port_->caps().name + "' has no wait_fd: busy-polling instead";
      cfg_.drive = drive_mode::busy_poll;
    } else {
      // The fd belongs to the port: released (never closed) in shutdown().
      fd_.emplace(ctx_, fd);
      timer_.emplace(ctx_);
    }
  }
  post_poll();
}

void bypass_service::stop() noexcept {
  running_ = false;
  if (fd_) {
    std::error_code ec;
    fd_->cancel(ec);
  }
  if (timer_) timer_->cancel();
}

stack::time_ns bypass_service::poll_once() noexcept {
  if (!ifc_) return stack::never;
  const stack::time_ns t = now();
  std::size_t moved = 0;
  if (cfg_.ingest) moved = cfg_.ingest(t);
  const auto before = ifc_->counters().rx_frames;
  const stack::time_ns next = ifc_->poll(cfg_.ingest ? now() : t);
  ++ctr_.polls;
  if (moved == 0 && ifc_->counters().rx_frames == before) ++ctr_.busy_polls;
  return next;
}

void bypass_service::post_poll() {
  if (poll_posted_) return;
  poll_posted_ = true;
  asio::post(ctx_, [this] { on_poll(); });
}

void bypass_service::on_poll() {
  poll_posted_ = false;
  if (!running_ || shut_down_) return;
  if (waiting_ > 0) {
    ++ctr_.yields;
    return post_poll();
  }
  const auto busy_before = ctr_.busy_polls;
  in_poll_handler_ = true;
  (void)poll_once();
  in_poll_handler_ = false;
  if (cfg_.drive == drive_mode::busy_poll || ctr_.busy_polls == busy_before) {
    post_poll();
  } else {
    // wait_fd and the poll found nothing: sleep until the port's fd turns readable or a stack timer is due.
    wait_ready();
  }
  // The handlers of the operations this poll completed, here on the loop thread outside any initiating
  // function. The next poll is already posted, so a handler that throws ends only this turn.
  run_ready();
}

namespace {
// The handler a completion is posted with: it owns the op until it runs, so a post that never runs
// (the io_context destroyed first) destroys the op without invoking it, as Asio's scheduler does.
struct posted_completion {
  bypass_service* svc;
  detail::operation* op;
  posted_completion(bypass_service* s, detail::operation* o) noexcept : svc(s), op(o) {}
  posted_completion(posted_completion&& other) noexcept : svc(other.svc), op(std::exchange(other.op, nullptr)) {}
  posted_completion& operator=(posted_completion&&) = delete;
  ~posted_completion() {
    if (op) op->destroy();
  }
  void operator()() {
    svc->completion_ran();
    std::exchange(op, nullptr)->complete(&svc->context());
  }
};
}  // namespace

void bypass_service::post_completion(detail::operation* o) noexcept {
  ++waiting_;
  ++ctr_.completions;
  try {
    asio::post(ctx_, posted_completion(this, o));
  } catch (...) {
    // Only a failed allocation throws: the op was destroyed with its handler lost, as Asio would lose it.
    --waiting_;
  }
}

void bypass_service::run_ready() {
  if (ready_.empty() && deferred_.empty()) return;
  // Frames the readers are done with go back to the port in one rx_release when the turn ends.
  ifc_->hold_releases();
  struct rest_later {   // a handler threw: the ones after it run from a posted handler
    bypass_service* s;
    ~rest_later() {
      s->running_ready_ = false;
      s->ifc_->flush_releases();
      if ((!s->ready_.empty() || !s->deferred_.empty()) && !s->shut_down_)
        asio::post(s->ctx_, [svc = s] { svc->run_ready(); });
    }
  } guard{this};
  running_ready_ = true;
  for (;;) {
    if (!ready_.empty()) {
      ready_.pop()->complete(&ctx_);
      continue;
    }
    if (deferred_.empty()) break;
    // Operations the handlers started: performed here, outside their initiating functions; the ones
    // that complete go on the ready list.
    in_poll_handler_ = true;
    while (!deferred_.empty()) {
      socket_hooks* s = deferred_.back();
      deferred_.pop_back();
      s->perform_deferred();
    }
    in_poll_handler_ = false;
  }
}

void bypass_service::wait_ready() {
  ++ctr_.fd_waits;
  const stack::time_ns next = ifc_->next_deadline();
  if (next != stack::never) {
    const stack::time_ns t = now();
    timer_->expires_after(std::chrono::nanoseconds(next > t ? next - t : 0));
    timer_->async_wait([this](std::error_code ec) {
      if (!ec && running_) {
        std::error_code ignored;
        fd_->cancel(ignored);   // the fd wait's handler re-arms through post_poll
      }
    });
  }
  fd_->async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (timer_) timer_->cancel();
    if (running_ && !shut_down_ && (!ec || ec == asio::error::operation_aborted)) post_poll();
  });
}

void bypass_service::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  running_ = false;
  // Pending socket operations are destroyed without being invoked (Asio's rule for shutdown).
  // Over a copy: destroying a socket's ops can destroy sockets (their handlers owned them), which
  // leave sockets_ (remove_socket); one that left is not touched again.
  const std::vector<socket_hooks*> open = sockets_;
  for (auto* s : open)
    if (std::find(sockets_.begin(), sockets_.end(), s) != sockets_.end()) s->shutdown_ops();
  deferred_.clear();
  ready_.destroy_all();
  if (fd_) {
    (void)fd_->release();   // the port owns the fd
    fd_.reset();
  }
  timer_.reset();
}

void bypass_service::add_socket(socket_hooks* s) { sockets_.push_back(s); }
void bypass_service::remove_socket(socket_hooks* s) noexcept {
  std::erase(deferred_, s);
  for (auto& p : sockets_)
    if (p == s) {
      p = sockets_.back();
      sockets_.pop_back();
      return;
    }
}

}  // namespace ringlab::bypass
