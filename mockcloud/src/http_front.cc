// HttpFront: the epoll loop (accept, head reads, deadlines, capacity answers, lingering
// close) and the worker pool (dispatch, response writing). See http_front.h for the model.
#include "http_front.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "http_conn.h"
#include "http_io.h"

namespace mockcloud {
namespace {

constexpr int kSweepMs = 50;             // deadline resolution of the loop
constexpr int kListenBacklog = 4096;     // connection bursts wait in the kernel, not refused
constexpr int64_t kLingerMs = 1000;      // after a closing answer: read and drop what follows
constexpr uint64_t kMaxLingerBytes = 1 << 20;
constexpr size_t kMaxDraining = 1024;    // closing connections kept lingering at once
constexpr size_t kRecvBuf = 16 * 1024;
constexpr int kMaxEvents = 256;
// Workers take new requests before long-poll answers (a commit makes hundreds due at once;
// a page read or /healthz should not wait behind them), but at least every kResumeEvery-th
// job is an answer, so they never starve.
constexpr int kResumeEvery = 4;

char kListenTag, kWakeTag;  // epoll data.ptr of the listening socket and the wake eventfd

enum class After { kRearm, kLinger, kClose };

// Reason phrases of the statuses the routes answer (clients ignore them; humans read them).
const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
  }
}

std::string PeerAddr(const sockaddr_storage& a, int* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    auto& in = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    *port = ntohs(in.sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    *port = ntohs(in6.sin6_port);
  }
  return buf;
}

}  // namespace

struct HttpFront::Impl {
  FrontOptions opts;
  DispatchFn dispatch;
  FinishedFn finished;
  FrontLogFn warn;
  HttpFront* self = nullptr;
  std::string busy_reply;  // the canned 503

  int listen_fd = -1, epfd = -1, wake_fd = -1;
  std::thread loop;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> rejected{0}, header_timeouts{0}, idle_timeouts{0};
  // Loop thread only:
  std::unordered_map<int, std::unique_ptr<Conn>> conns;
  size_t busy = 0, draining = 0;
  bool listen_paused = false, stop_begun = false;
  int64_t next_sweep = 0;

  std::mutex msg_mu;  // guards msgs
  std::vector<std::pair<Conn*, After>> msgs;

  std::mutex q_mu;  // guards queue, resumes, since_resume, workers_stop
  std::condition_variable q_cv;
  std::deque<std::function<void()>> queue;    // requests whose head just arrived
  std::deque<std::function<void()>> resumes;  // parked exchanges due (long-poll answers)
  int since_resume = 0;
  bool workers_stop = false;
  std::vector<std::thread> workers;

  ltx::Status Bind();
  void Loop();
  void Accept();
  void OnReadable(Conn* c);
  void TryStart(Conn* c);
  void StartExchange(Conn* c, std::unique_ptr<Exchange> ex);
  void Sweep(int64_t now);
  void BeginStop();
  void ProcessMessages();
  void Linger(Conn* c);
  void Close(Conn* c);
  void Arm(Conn* c);
  void RejectAtCapacity(Conn* c);

  void Post(Conn* c, After a);
  bool Enqueue(std::function<void()> job, bool bounded);
  void Worker();
  void Run(std::unique_ptr<Exchange> ex);
  void Finish(std::unique_ptr<Exchange> ex);
  bool WriteResponse(Exchange& ex, bool keep);
  std::string HeadOf(const Exchange& ex, int status, bool keep, size_t len, bool body_allowed);
};

// ---- setup and teardown ----

ltx::Status HttpFront::Impl::Bind() {
  addrinfo hints{}, *ai = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string port = std::to_string(opts.port);
  std::string host = opts.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); rc != 0)
    return ltx::Status::IOError("cannot resolve " + opts.host + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo* a = ai; a && listen_fd < 0; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, kListenBacklog) == 0) {
      listen_fd = fd;
      break;
    }
    why = strerror(errno);
    close(fd);
  }
  freeaddrinfo(ai);
  if (listen_fd < 0)
    return ltx::Status::IOError("cannot listen on " + opts.host + ":" + port + ": " + why);
  return ltx::Status::OK();
}

ltx::Result<std::unique_ptr<HttpFront>> HttpFront::Start(FrontOptions opts, DispatchFn dispatch,
                                                         FinishedFn finished, FrontLogFn warn) {
  if (opts.workers < 1) return ltx::Status::InvalidArgument("at least one worker thread is needed");
  auto impl = std::make_unique<Impl>();
  impl->opts = std::move(opts);
  impl->dispatch = std::move(dispatch);
  impl->finished = std::move(finished);
  impl->warn = std::move(warn);
  LTX_RETURN_IF_ERROR(impl->Bind());
  sockaddr_storage a{};
  socklen_t al = sizeof a;
  getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&a), &al);
  int port = 0;
  PeerAddr(a, &port);
  impl->opts.port = port;
  impl->epfd = epoll_create1(EPOLL_CLOEXEC);
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->epfd < 0 || impl->wake_fd < 0) {
    if (impl->epfd >= 0) close(impl->epfd);
    close(impl->listen_fd);
    return ltx::Status::IOError(std::string("epoll/eventfd: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &kListenTag;
  epoll_ctl(impl->epfd, EPOLL_CTL_ADD, impl->listen_fd, &ev);
  ev.data.ptr = &kWakeTag;
  epoll_ctl(impl->epfd, EPOLL_CTL_ADD, impl->wake_fd, &ev);
  const std::string body = "{\"code\":\"EUNAVAILABLE\",\"error\":\"the server is at capacity; retry after " +
                           std::to_string(impl->opts.retry_after_s) + " s\"}";
  std::string& b = impl->busy_reply;
  b = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + std::to_string(impl->opts.retry_after_s) +
      "\r\n";
  for (const auto& [k, v] : impl->opts.default_headers) b += k + ": " + v + "\r\n";
  b += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\nConnection: close\r\n\r\n" + body;
  auto front = std::unique_ptr<HttpFront>(new HttpFront(std::move(impl)));
  front->port_ = port;
  Impl* im = front->impl_.get();
  im->self = front.get();
  for (int i = 0; i < im->opts.workers; i++) im->workers.emplace_back([im] { im->Worker(); });
  im->loop = std::thread([im] { im->Loop(); });
  return front;
}

HttpFront::HttpFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFront::~HttpFront() { Stop(); }

HttpFront::Stats HttpFront::stats() const {
  return {impl_->open.load(), impl_->rejected.load(), impl_->header_timeouts.load(),
          impl_->idle_timeouts.load()};
}

void HttpFront::Stop() {
  Impl& im = *impl_;
  if (im.stopping.exchange(true)) {
    if (im.loop.joinable()) im.loop.join();
    return;
  }
  uint64_t one = 1;
  (void)!write(im.wake_fd, &one, sizeof one);
  if (im.loop.joinable()) im.loop.join();  // returns once no connection is busy
  {
    std::lock_guard l(im.q_mu);
    im.workers_stop = true;
  }
  im.q_cv.notify_all();
  for (auto& w : im.workers) w.join();
  im.workers.clear();
  close(im.epfd);
  close(im.wake_fd);
}

void HttpFront::Resume(Exchange* ex, std::function<void(Exchange&)> fn) {
  impl_->Enqueue(
      [im = impl_.get(), ex, fn = std::move(fn)] {
        std::unique_ptr<Exchange> own(ex);
        fn(*own);
        im->Finish(std::move(own));
      },
      /*bounded=*/false);
}

// ---- the loop ----

void HttpFront::Impl::Loop() {
  epoll_event evs[kMaxEvents];
  for (;;) {
    int n = epoll_wait(epfd, evs, kMaxEvents, kSweepMs);
    for (int i = 0; i < n; i++) {
      void* p = evs[i].data.ptr;
      if (p == &kListenTag) {
        Accept();
      } else if (p == &kWakeTag) {
        uint64_t v;
        (void)!read(wake_fd, &v, sizeof v);
      } else {
        OnReadable(static_cast<Conn*>(p));
      }
    }
    ProcessMessages();
    const int64_t now = SteadyNowMs();
    if (now >= next_sweep) {
      Sweep(now);
      next_sweep = now + kSweepMs;
    }
    if (stopping && !stop_begun) BeginStop();
    if (stop_begun && busy == 0) break;
  }
  for (auto& [fd, c] : conns) close(fd);
  conns.clear();
  open = 0;
}

void HttpFront::Impl::Accept() {
  for (;;) {
    sockaddr_storage a{};
    socklen_t al = sizeof a;
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&a), &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting until the next sweep (else the loop spins).
        epoll_ctl(epfd, EPOLL_CTL_DEL, listen_fd, nullptr);
        listen_paused = true;
        if (warn) warn(std::string("accept: ") + strerror(errno) + " (raise the open-file limit " +
                       "or lower --max-connections); new connections wait");
      }
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->remote_addr = PeerAddr(a, &c->remote_port);
    c->local_port = opts.port;
    c->io_timeout_ms = opts.io_timeout_ms;
    Conn* raw = c.get();
    conns.emplace(fd, std::move(c));
    open = conns.size();
    if (conns.size() - draining > opts.max_connections) {
      RejectAtCapacity(raw);
      continue;
    }
    Arm(raw);
  }
}

// (Re)enters kReading: idle deadline, or the header deadline if bytes are already here.
void HttpFront::Impl::Arm(Conn* c) {
  c->state = Conn::State::kReading;
  c->in_head = !c->buf.empty();
  c->deadline_ms = SteadyNowMs() + (c->in_head ? opts.header_timeout_ms : opts.idle_timeout_ms);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = c;
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (c->in_head) TryStart(c);
}

void HttpFront::Impl::OnReadable(Conn* c) {
  char tmp[kRecvBuf];
  for (;;) {
    if (c->state == Conn::State::kReading && FindHeadEnd(c->buf) != std::string::npos) break;
    ssize_t r = recv(c->fd, tmp, sizeof tmp, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) return Close(c);  // peer closed (or reset) the connection
    if (c->state == Conn::State::kDraining) {
      c->drained += uint64_t(r);
      if (c->drained > kMaxLingerBytes) return Close(c);
      continue;
    }
    if (!c->in_head) {
      c->in_head = true;
      c->deadline_ms = SteadyNowMs() + opts.header_timeout_ms;
    }
    c->buf.append(tmp, size_t(r));
    if (c->buf.size() > kMaxHeadBytes) break;
  }
  if (c->state == Conn::State::kReading) TryStart(c);
}

void HttpFront::Impl::TryStart(Conn* c) {
  const size_t end = FindHeadEnd(c->buf);
  auto ex = std::unique_ptr<Exchange>(new Exchange(self, c));
  if (end == std::string::npos) {
    const bool long_line = c->buf.size() > kMaxRequestLine + 2 &&
                           c->buf.find("\r\n") == std::string::npos;
    if (c->buf.size() <= kMaxHeadBytes && !long_line) return;  // wait for more
    ex->head.status = long_line ? 414 : 431;
    ex->head.error = long_line ? "request line over " + std::to_string(kMaxRequestLine) + " bytes"
                               : "request head over " + std::to_string(kMaxHeadBytes) + " bytes";
    ex->head.keep_alive = false;
    c->buf.clear();
  } else {
    ex->head = ParseHead(std::string_view(c->buf).substr(0, end), &ex->req);
    c->buf.erase(0, end);
  }
  ex->body_done_ = ex->head.framing == BodyFraming::kNone;
  ex->req.remote_addr = c->remote_addr;
  ex->req.remote_port = c->remote_port;
  ex->req.local_addr = opts.host;
  ex->req.local_port = c->local_port;
  StartExchange(c, std::move(ex));
}

void HttpFront::Impl::StartExchange(Conn* c, std::unique_ptr<Exchange> ex) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, nullptr);
  c->state = Conn::State::kBusy;
  busy++;
  Exchange* raw = ex.release();
  if (!Enqueue([this, raw] { Run(std::unique_ptr<Exchange>(raw)); }, /*bounded=*/true)) {
    delete raw;
    busy--;
    RejectAtCapacity(c);
  }
}

void HttpFront::Impl::RejectAtCapacity(Conn* c) {
  rejected++;
  (void)!send(c->fd, busy_reply.data(), busy_reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  Linger(c);
}

// Half-closes after a final answer and reads what the client still sends for a moment, so
// the answer is not destroyed by a reset (closing with unread data sends RST).
void HttpFront::Impl::Linger(Conn* c) {
  if (draining >= kMaxDraining || stopping) return Close(c);
  shutdown(c->fd, SHUT_WR);
  if (c->state == Conn::State::kReading) epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, nullptr);
  c->state = Conn::State::kDraining;
  c->buf.clear();
  c->deadline_ms = SteadyNowMs() + kLingerMs;
  draining++;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = c;
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

void HttpFront::Impl::Close(Conn* c) {
  if (c->state == Conn::State::kDraining) draining--;
  close(c->fd);  // also removes it from the epoll set
  conns.erase(c->fd);
  open = conns.size();
}

void HttpFront::Impl::Sweep(int64_t now) {
  if (listen_paused && !stop_begun) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &kListenTag;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
    listen_paused = false;
  }
  std::vector<Conn*> expired;
  for (auto& [fd, c] : conns) {
    if (c->state != Conn::State::kBusy && now >= c->deadline_ms) expired.push_back(c.get());
  }
  for (Conn* c : expired) {
    if (c->state == Conn::State::kReading) (c->in_head ? header_timeouts : idle_timeouts)++;
    Close(c);
  }
}

void HttpFront::Impl::BeginStop() {
  stop_begun = true;
  close(listen_fd);
  std::vector<Conn*> idle;
  for (auto& [fd, c] : conns) {
    if (c->state == Conn::State::kBusy) {
      shutdown(fd, SHUT_RDWR);  // its worker fails fast and hands it back
    } else {
      idle.push_back(c.get());
    }
  }
  for (Conn* c : idle) Close(c);
}

void HttpFront::Impl::Post(Conn* c, After a) {
  {
    std::lock_guard l(msg_mu);
    msgs.emplace_back(c, a);
  }
  uint64_t one = 1;
  (void)!write(wake_fd, &one, sizeof one);
}

void HttpFront::Impl::ProcessMessages() {
  std::vector<std::pair<Conn*, After>> todo;
  {
    std::lock_guard l(msg_mu);
    todo.swap(msgs);
  }
  for (auto [c, a] : todo) {
    busy--;
    if (stop_begun || a == After::kClose) {
      Close(c);
    } else if (a == After::kLinger) {
      Linger(c);
    } else {
      Arm(c);
    }
  }
}

// ---- workers ----

bool HttpFront::Impl::Enqueue(std::function<void()> job, bool bounded) {
  {
    std::lock_guard l(q_mu);
    if (bounded && queue.size() >= opts.max_queue) return false;
    (bounded ? queue : resumes).push_back(std::move(job));
  }
  q_cv.notify_one();
  return true;
}

void HttpFront::Impl::Worker() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock l(q_mu);
      q_cv.wait(l, [&] { return workers_stop || !queue.empty() || !resumes.empty(); });
      if (queue.empty() && resumes.empty()) return;
      const bool resume = !resumes.empty() && (queue.empty() || ++since_resume >= kResumeEvery);
      auto& from = resume ? resumes : queue;
      if (resume) since_resume = 0;
      job = std::move(from.front());
      from.pop_front();
    }
    job();
  }
}

void HttpFront::Impl::Run(std::unique_ptr<Exchange> ex) {
  if (dispatch(*ex)) {
    ex.release();  // parked: HttpFront::Resume takes it back
    return;
  }
  Finish(std::move(ex));
}

void HttpFront::Impl::Finish(std::unique_ptr<Exchange> ex) {
  Conn* c = ex->conn_;
  After after = After::kClose;
  if (ex->drop) {
    shutdown(c->fd, SHUT_RDWR);
  } else {
    const bool keep = ex->head.status == 0 && ex->head.keep_alive && !ex->close &&
                      ex->body_done_ && !stopping;
    if (WriteResponse(*ex, keep)) after = keep ? After::kRearm : After::kLinger;
  }
  if (finished) finished(*ex);
  ex.reset();  // releases what a content provider held before the connection is reused
  Post(c, after);
}

std::string HttpFront::Impl::HeadOf(const Exchange& ex, int status, bool keep, size_t len,
                                    bool body_allowed) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " +
                  Reason(status) + "\r\n";
  for (const auto& [k, v] : opts.default_headers) {
    if (!ex.res.has_header(k.c_str())) h += k + ": " + v + "\r\n";
  }
  for (const auto& [k, v] : ex.res.headers) {
    if (k == "Content-Length" || k == "Connection") continue;
    h += k + ": " + v + "\r\n";
  }
  if (body_allowed) h += "Content-Length: " + std::to_string(len) + "\r\n";
  h += keep ? "Connection: keep-alive\r\nKeep-Alive: timeout=" +
                  std::to_string(opts.idle_timeout_ms / 1000) + "\r\n"
            : "Connection: close\r\n";
  return h + "\r\n";
}

bool HttpFront::Impl::WriteResponse(Exchange& ex, bool keep) {
  httplib::Response& res = ex.res;
  if (res.status <= 0) res.status = 200;
  const bool body_allowed = res.status >= 200 && res.status != 204 && res.status != 304;
  const bool provider = bool(res.content_provider_);
  const size_t len = provider ? res.content_length_ : res.body.size();
  const std::string head = HeadOf(ex, res.status, keep, len, body_allowed);
  const bool no_body = !body_allowed || ex.req.method == "HEAD";
  const int fd = ex.conn_->fd;
  const int64_t t = opts.io_timeout_ms;
  if (!provider || no_body) return SendTwo(fd, head, no_body ? std::string() : res.body, t);
  if (!SendAll(fd, head.data(), head.size(), t)) return false;
  size_t offset = 0;
  bool ok = true;
  httplib::DataSink sink;
  sink.write = [&](const char* d, size_t n) {
    ok = ok && SendAll(fd, d, n, t);
    if (ok) offset += n;
    return ok;
  };
  sink.is_writable = [&] { return ok; };
  sink.done = [] {};
  while (offset < len) {
    const size_t before = offset;
    if (!res.content_provider_(offset, len - offset, sink) || !ok || offset == before) return false;
  }
  res.content_provider_success_ = true;
  return true;
}

}  // namespace mockcloud
