// One client side of a gRPC bidirectional stream (callback API), for every client that keeps
// long-lived streams with many messages in flight: the grpc_stream path's client threads and
// the balancer's streams to its workers.
//
// What it does, so its users need not:
//   - writes are queued and written one at a time (gRPC allows one write in flight); write()
//     may be called from any thread, outside any reaction;
//   - reads are continuous: each reply goes to Events::on_reply, then the next read starts;
//   - a hold (AddHold in begin(), RemoveHold once the read loop has seen the end of the stream)
//     keeps gRPC from finishing the stream while a write may still start from outside a
//     reaction: write() and the end of the read loop are ordered by one mutex, so once the
//     reads are over no write starts and write() says so; then gRPC calls OnDone.
//
// Events is a small copyable value (pointers to its owner) with:
//   void on_reply(Reply& reply);             // gRPC thread, one at a time, in arrival order; the
//                                            // buffer is reused for the next read after return
//   void on_done(const grpc::Status& status);  // gRPC thread, last; finished() is already true
// Owners that live on an io_context post from these (as the grpc_stream path does), so their
// bookkeeping stays on their own thread; owners under a mutex handle them in place.
//
// Lifetime: begin() once. The owner frees the stream only once finished() is true (cancel()
// first to hasten the end); on_done runs on a copy of Events and touches nothing of the stream
// after finished() became true, so the owner may free it from then on. Steady state allocates
// nothing: queued writes reuse their buffers (Request::Clear keeps capacity) and the one in
// flight is swapped out of the queue.
#pragma once
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace pathbench::net {

template <class Request, class Reply, class Events>
class GrpcBidiClient final : public grpc::ClientBidiReactor<Request, Reply> {
 public:
  explicit GrpcBidiClient(Events events) : events_(std::move(events)) {}
  GrpcBidiClient(const GrpcBidiClient&) = delete;
  GrpcBidiClient& operator=(const GrpcBidiClient&) = delete;

  // Starts the call: `start(context, reactor)` is the stub's async method, e.g.
  // [&](grpc::ClientContext* c, auto* r) { stub.async()->QueryStream(c, r); }. Once.
  template <class Start>
  void begin(Start&& start) {
    start(&context_, this);
    this->AddHold();  // released by the read loop's end (OnReadDone(false))
    this->StartRead(&read_buffer_);
    this->StartCall();
  }

  // Any thread. Queues one request, filled in place by `fill(Request&)` on a cleared, reused
  // buffer, and starts writing it when no write is in flight. False once the stream is over
  // (`fill` not called, nothing sent). True: the stream took it — written in order, or, if a
  // write has already failed, lost with the stream (on_done follows).
  template <class Fill>
  bool write(Fill&& fill) {
    std::lock_guard lock(mutex_);
    if (reads_over_) return false;
    if (writes_broken_) return true;
    Request& slot = push_slot();
    slot.Clear();
    fill(slot);
    if (!write_in_flight_) start_write_locked();
    return true;
  }

  // Whether write() may still take requests (the read loop has not seen the end). Any thread.
  bool open() {
    std::lock_guard lock(mutex_);
    return !reads_over_;
  }
  // gRPC has called OnDone: the owner may free this stream. Any thread.
  bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  void cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The stream is over: no write starts after this, then gRPC may finish it (OnDone).
      {
        std::lock_guard lock(mutex_);
        reads_over_ = true;
        queued_ = 0;
      }
      this->RemoveHold();
      return;
    }
    events_.on_reply(read_buffer_);
    this->StartRead(&read_buffer_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mutex_);
    write_in_flight_ = false;
    if (!ok) {
      // The call is broken: nothing more can be written; the read loop sees the end next.
      writes_broken_ = true;
      queued_ = 0;
      return;
    }
    if (!reads_over_ && queued_ > 0) start_write_locked();
  }

  void OnDone(const grpc::Status& status) override {
    // Copies first: once finished_ is set the owner may free this stream.
    Events events = events_;
    const grpc::Status copy = status;
    finished_.store(true, std::memory_order_release);
    events.on_done(copy);
  }

 private:
  // The next free buffer at the queue's tail; grows the ring (in order) when it is full.
  Request& push_slot() {
    if (queued_ == ring_.size()) {
      std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
      head_ = 0;
      ring_.emplace_back();
    }
    Request& slot = ring_[(head_ + queued_) % ring_.size()];
    ++queued_;
    return slot;
  }

  void start_write_locked() {
    in_flight_.Swap(&ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
    --queued_;
    write_in_flight_ = true;
    this->StartWrite(&in_flight_);
  }

  Events events_;
  grpc::ClientContext context_;
  Reply read_buffer_;  // the one read in flight
  std::atomic<bool> finished_{false};

  // A reaction may run inline from StartWrite on the calling thread, and take the lock again.
  std::recursive_mutex mutex_;
  std::vector<Request> ring_;  // queued writes: queued_ of them from head_, wrapping around
  std::size_t head_ = 0;
  std::size_t queued_ = 0;
  Request in_flight_;          // the one write in flight, unchanged until OnWriteDone
  bool write_in_flight_ = false;
  bool writes_broken_ = false;
  bool reads_over_ = false;
};

}  // namespace pathbench::net
