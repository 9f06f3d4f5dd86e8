#include "thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "../nl/error.h"

namespace nk::ns {

namespace {
thread_local bool tWorker = false;
thread_local bool tPoisoned = false;
thread_local int tHomeFd = -1;
thread_local uint64_t tHomeIno = 0;
}  // namespace

uint64_t CurrentNetnsIno() {
  struct stat st;
  if (::stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_ino);
}

bool OnWorker() { return tWorker; }

void ReturnHome() {
  if (!tWorker) return;
  if (::setns(tHomeFd, CLONE_NEWNET) != 0 || CurrentNetnsIno() != tHomeIno) tPoisoned = true;
}

InNetns::InNetns(int fd) {
  if (!tWorker) throw SysError(EPERM, "setns", "refused outside the addon's namespace threads");
  if (tPoisoned) throw SysError(EIO, "setns", "this namespace thread could not return to its home namespace");
  if (::setns(fd, CLONE_NEWNET) != 0) {
    int e = errno;
    ReturnHome();  // setns failed: we should still be home, but check
    throw SysError(e, "setns");
  }
}

InNetns::~InNetns() { ReturnHome(); }

ThreadPool::ThreadPool(size_t threads) {
  homeFd_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  homeIno_ = CurrentNetnsIno();
  stats_.homeIno = homeIno_;
  std::lock_guard<std::mutex> lk(mu_);
  for (size_t i = 0; i < threads; i++) StartWorker();
}

void ThreadPool::StartWorker() {  // mu_ held
  live_++;
  threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (;;) {
    std::vector<std::thread> ts;
    {
      std::lock_guard<std::mutex> lk(mu_);
      ts.swap(threads_);
    }
    if (ts.empty()) break;
    for (auto& t : ts)
      if (t.joinable()) t.join();
  }
  if (homeFd_ >= 0) ::close(homeFd_);
}

void ThreadPool::Post(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

ThreadPool::Stats ThreadPool::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  Stats s = stats_;
  s.threads = live_;
  return s;
}

void ThreadPool::Run() {
  pthread_setname_np(pthread_self(), "nk-netns");
  tWorker = true;
  tHomeFd = homeFd_;
  tHomeIno = homeIno_;
  // A replacement worker is started by the thread it replaces, which may be stranded in
  // another namespace: go home first, and give up if that is impossible.
  if (CurrentNetnsIno() != homeIno_) ReturnHome();
  // If even that failed, this worker still serves jobs (so nothing waits forever) but
  // refuses every namespace switch (InNetns throws), and no further replacements start.
  bool strandedAtStart = tPoisoned;
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (tPoisoned && !strandedAtStart) {
        live_--;
        stats_.discarded++;
        // A replacement starts home (see above); this thread ends and is never reused.
        if (!stopping_) StartWorker();
        return;
      }
      cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        live_--;
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      stats_.jobs++;
    }
    job();
  }
}

}  // namespace nk::ns
