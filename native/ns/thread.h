// The addon's own threads: the only threads that ever call setns/unshare.
// Plain C++ (no N-API). Each worker knows its home network namespace; after every job it
// checks it is back there (/proc/thread-self/ns/net) and, if it cannot get back, it is
// discarded and replaced rather than reused.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nk::ns {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();  // finishes queued jobs, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> job);

  struct Stats {
    uint64_t jobs = 0;
    uint64_t discarded = 0;  // workers dropped because they could not return home
    size_t threads = 0;
    uint64_t homeIno = 0;
  };
  Stats stats();

 private:
  void Run();
  void StartWorker();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  size_t live_ = 0;
  Stats stats_;
  int homeFd_ = -1;  // the process's network namespace, opened on the constructing thread
  uint64_t homeIno_ = 0;
};

// Moves the calling worker thread into the namespace `fd` for the guard's lifetime, then
// back home. Must only be used on ThreadPool workers. Throws SysError if setns fails.
class InNetns {
 public:
  explicit InNetns(int fd);
  ~InNetns();
  InNetns(const InNetns&) = delete;
  InNetns& operator=(const InNetns&) = delete;
};

// For jobs that unshare(CLONE_NEWNET) themselves: returns the thread home (or poisons it).
void ReturnHome();

// True on a ThreadPool worker thread.
bool OnWorker();

// Inode of the calling thread's current network namespace (0 on error).
uint64_t CurrentNetnsIno();

}  // namespace nk::ns
