#include "services/orchestrator/llm/fake_openai_server.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace voxflow::orchestrator::testing {
namespace {

std::string Chunk(const std::string& content) {
  nlohmann::json chunk = {{"choices", {{{"index", 0}, {"delta", {{"content", content}}}}}}};
  return absl::StrCat("data: ", chunk.dump(), "\n\n");
}

}  // namespace

FakeOpenAiServer::FakeOpenAiServer() : server_(std::make_unique<httplib::Server>()) {
  server_->set_keep_alive_timeout(1);  // Stop() waits for idle kept-alive connections.
  server_->Post(
      "/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
        ++requests_;
        {
          std::lock_guard<std::mutex> lock(mu_);
          last_body_ = request.body;
          last_authorization_ = request.get_header_value("Authorization");
        }
        const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
        const std::string model = body.is_object() ? body.value("model", "") : "";
        for (const char* code : {"401", "403", "404", "429", "503"}) {
          if (model == code) {
            response.status = std::stoi(code);
            if (model == "429") response.set_header("Retry-After", "3");
            response.set_content(R"({"error":{"message":"scripted failure"}})", "application/json");
            return;
          }
        }
        response.set_chunked_content_provider(
            "text/event-stream", [this, model](size_t, httplib::DataSink& sink) {
              auto write = [&sink](const std::string& text) {
                return sink.is_writable() && sink.write(text.data(), text.size());
              };
              if (model == "malformed") {
                write("data: {\"choices\": [tru\n\n");
              } else if (model == "cut") {
                write(Chunk("Hello"));
              } else if (model == "slow") {
                const absl::Time end = absl::Now() + absl::Seconds(10);
                while (absl::Now() < end) {
                  if (!write(Chunk("la "))) {
                    std::lock_guard<std::mutex> lock(mu_);
                    disconnected_ = absl::Now();
                    disconnected_cv_.notify_all();
                    return false;
                  }
                  absl::SleepFor(absl::Milliseconds(20));
                }
              } else {
                write(": keep-alive\n\n");
                for (const char* token : {"Hello", " there", "!"}) write(Chunk(token));
                write(R"(data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
                      "\n\n");
                write(R"(data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}})"
                      "\n\n");
                write("data: [DONE]\n\n");
              }
              sink.done();
              return true;
            });
      });
  port_ = server_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // The socket listens once bound: connections wait in its backlog until the loop accepts them.
}

FakeOpenAiServer::~FakeOpenAiServer() {
  server_->stop();
  thread_.join();
}

std::string FakeOpenAiServer::base_url() const {
  return absl::StrCat("http://127.0.0.1:", port_, "/v1");
}

std::string FakeOpenAiServer::last_body() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_body_;
}

std::string FakeOpenAiServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_authorization_;
}

bool FakeOpenAiServer::WaitForDisconnect(absl::Duration timeout, absl::Time* when) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool seen = disconnected_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return disconnected_ != absl::InfinitePast();
  });
  if (seen && when != nullptr) *when = disconnected_;
  return seen;
}

}  // namespace voxflow::orchestrator::testing
