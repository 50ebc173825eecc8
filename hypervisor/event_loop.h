#pragma once
// The VMM's single device thread: one Boost.Asio io_context runs every
// ioeventfd, TAP fd, timer and control-socket handler. vCPU threads only do
// synchronous register access and post() work here.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <thread>

#include <spdlog/spdlog.h>

namespace wren {

class EventLoop {
 public:
  EventLoop() : work_(boost::asio::make_work_guard(io_)) {}
  ~EventLoop() { stop(); }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  boost::asio::io_context& context() { return io_; }
  void start() {
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  // Runs handlers until stop(). A handler that throws is logged and the loop
  // goes on (devices catch their own and set NEEDS_RESET; this is the last
  // line, so one bad handler never ends the VMM).
  void run() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("event loop: a handler failed: {}", e.what());
      } catch (...) {
        spdlog::error("event loop: a handler failed with an unknown exception");
      }
    }
  }
  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
  bool in_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace wren
