#include "services/common/http/curl_loop.h"

#include <utility>

namespace voxflow {
namespace {

CURLM* NewMulti() {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return curl_multi_init();
}

}  // namespace

CurlLoop::CurlLoop() : multi_(NewMulti()), thread_([this] { Run(); }) {}

CurlLoop::~CurlLoop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

CurlLoop& CurlLoop::Default() {
  static CurlLoop* loop = new CurlLoop();
  return *loop;
}

int64_t CurlLoop::Add(CURL* easy, Done on_done) {
  int64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    to_add_.emplace_back(id, Transfer{easy, std::move(on_done)});
  }
  curl_multi_wakeup(multi_);
  return id;
}

void CurlLoop::Abort(int64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    to_abort_.push_back(id);
  }
  curl_multi_wakeup(multi_);
}

void CurlLoop::Run() {
  while (true) {
    std::vector<std::pair<int64_t, Transfer>> added;
    std::vector<int64_t> aborted;
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      added.swap(to_add_);
      aborted.swap(to_abort_);
      stopping = stopping_;
    }
    for (auto& [id, transfer] : added) {
      curl_easy_setopt(transfer.easy, CURLOPT_PRIVATE, reinterpret_cast<void*>(id));
      curl_multi_add_handle(multi_, transfer.easy);
      running_.emplace(id, std::move(transfer));
    }
    if (stopping) {
      for (auto& [id, transfer] : running_) aborted.push_back(id);
    }
    for (int64_t id : aborted) {
      auto it = running_.find(id);
      if (it == running_.end()) continue;  // Over already; its on_done ran.
      Transfer transfer = std::move(it->second);
      running_.erase(it);
      curl_multi_remove_handle(multi_, transfer.easy);
      transfer.on_done(CURLE_ABORTED_BY_CALLBACK);
    }
    if (stopping) return;

    int still_running = 0;
    curl_multi_perform(multi_, &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      void* id = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &id);
      const CURLcode result = message->data.result;
      auto it = running_.find(reinterpret_cast<int64_t>(id));
      if (it == running_.end()) continue;
      Transfer transfer = std::move(it->second);
      running_.erase(it);
      curl_multi_remove_handle(multi_, transfer.easy);
      transfer.on_done(result);
    }
    // Sleeps until a socket is ready, libcurl's next timeout, or a wakeup (Add, Abort).
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
}

}  // namespace voxflow
