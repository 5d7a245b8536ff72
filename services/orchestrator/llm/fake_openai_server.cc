#include "services/orchestrator/llm/fake_openai_server.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace voxflow::orchestrator::testing {
namespace {

using Json = nlohmann::json;

std::string Event(const Json& delta, const char* finish_reason = nullptr) {
  Json choice = {{"index", 0}, {"delta", delta}};
  if (finish_reason != nullptr) choice["finish_reason"] = finish_reason;
  return absl::StrCat("data: ", Json{{"choices", {choice}}}.dump(), "\n\n");
}

std::string Chunk(const std::string& content) { return Event({{"content", content}}); }

std::string ToolPiece(const Json& call) { return Event({{"tool_calls", {call}}}); }

constexpr char kEnd[] =
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\n"
    "data: [DONE]\n\n";

}  // namespace

FakeOpenAiServer::FakeOpenAiServer(std::optional<Tls> tls, int streams)
    : server_(tls.has_value() ? std::make_unique<httplib::SSLServer>(tls->cert_file.c_str(),
                                                                     tls->key_file.c_str())
                              : std::make_unique<httplib::Server>()),
      tls_(tls.has_value()) {
  server_->set_keep_alive_timeout(1);  // Stop() waits for idle kept-alive connections.
  // As model servers do: without it a token's small write waits for the client's delayed ACK
  // (40 ms), which a benchmark would count against the orchestrator.
  server_->set_tcp_nodelay(true);
  // httplib closes a connection after 5 requests by default; model servers keep it.
  server_->set_keep_alive_max_count(1000000);
  server_->new_task_queue = [streams] { return new httplib::ThreadPool(streams); };
  server_->Post("/v1/chat/completions", [this](const httplib::Request& request,
                                               httplib::Response& response) {
    ++requests_;
    const Json body = Json::parse(request.body, nullptr, false);
    std::string model = body.is_object() ? body.value("model", "") : "";
    // The user's last message keys the timestamps; a tool answer, if any, shapes the reply.
    std::string user_text;
    std::optional<std::string> tool_answer;
    std::string tool = "get_weather";  // The first tool the request declares.
    if (body.is_object() && body.contains("tools") && body["tools"].is_array() &&
        !body["tools"].empty() && body["tools"][0].is_object()) {
      tool = body["tools"][0].value("function", Json::object()).value("name", tool);
    }
    if (body.is_object() && body.contains("messages") && body["messages"].is_array()) {
      for (const Json& message : body["messages"]) {
        if (!message.is_object()) continue;
        const std::string role = message.value("role", "");
        if (role == "user" && message["content"].is_string()) user_text = message["content"];
        if (role == "tool" && message["content"].is_string()) tool_answer = message["content"];
      }
    }
    std::string retry_after = "3";
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_body_ = request.body;
      bodies_.push_back(request.body);
      last_authorization_ = request.get_header_value("Authorization");
      if (model == "429once" && requests_429once_++ == 0) {
        model = "429";
        retry_after = "1";
      }
    }
    for (const char* code : {"401", "403", "404", "429", "503"}) {
      if (model == code) {
        response.status = std::stoi(code);
        if (model == "429") response.set_header("Retry-After", retry_after);
        response.set_content(R"({"error":{"message":"scripted failure"}})", "application/json");
        return;
      }
    }
    if (model == "tool_unknown") tool = "launch_rockets";
    response.set_chunked_content_provider(
        "text/event-stream",
        [this, model, user_text, tool_answer, tool](size_t, httplib::DataSink& sink) {
          bool first = true;
          auto write = [&](const std::string& text) {
            if (!sink.is_writable() || !sink.write(text.data(), text.size())) return false;
            if (first && absl::StrContains(text, "\"content\"")) {
              first = false;
              std::lock_guard<std::mutex> lock(mu_);
              first_token_sent_[user_text] = absl::Now();
            }
            return true;
          };
          auto gone = [this] {
            std::lock_guard<std::mutex> lock(mu_);
            disconnects_.push_back(absl::Now());
            disconnected_cv_.notify_all();
            return false;
          };
          if (model == "malformed") {
            write("data: {\"choices\": [tru\n\n");
          } else if (model == "cut") {
            write(Chunk("Hello"));
          } else if (model == "slow") {
            const absl::Time end = absl::Now() + absl::Seconds(10);
            while (absl::Now() < end) {
              if (!write(Chunk("la "))) return gone();
              absl::SleepFor(absl::Milliseconds(1));
            }
          } else if (model == "story") {
            for (int sentence = 1; sentence <= 10; ++sentence) {
              for (const std::string& word :
                   {std::string("This "), std::string("is "), std::string("sentence "),
                    absl::StrCat("number ", sentence, ". ")}) {
                if (!write(Chunk(word))) return gone();
                absl::SleepFor(absl::Milliseconds(30));
              }
            }
            write(Event(Json::object(), "stop"));
            write(kEnd);
          } else if ((model == "tool" || model == "tool_unknown") && !tool_answer.has_value()) {
            const std::string arguments = tool == "get_weather" ? R"({"city":"Paris"})"
                                          : tool == "get_time"  ? R"({"timezone":"Asia/Tokyo"})"
                                                                : "{}";
            write(ToolPiece({{"index", 0},
                             {"id", "call_w1"},
                             {"type", "function"},
                             {"function", {{"name", tool}, {"arguments", ""}}}}));
            const size_t half = arguments.size() / 2;
            for (const std::string& piece : {arguments.substr(0, half), arguments.substr(half)}) {
              write(ToolPiece({{"index", 0}, {"function", {{"arguments", piece}}}}));
            }
            write(Event(Json::object(), "tool_calls"));
            write(kEnd);
          } else if (model == "tool" || model == "tool_unknown") {
            const Json answer = Json::parse(*tool_answer, nullptr, false);
            const std::string said =
                answer.is_object() && answer.contains("error")
                    ? absl::StrCat("Tool failed: ", answer["error"].dump(), ".")
                    : absl::StrCat("Tool said: ", *tool_answer, ".");
            write(Chunk(said));
            write(Event(Json::object(), "stop"));
            write(kEnd);
          } else {
            write(": keep-alive\n\n");
            for (const char* token : {"Hello", " there", "!"}) write(Chunk(token));
            write(Event(Json::object(), "stop"));
            write(kEnd);
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
  return tls_ ? absl::StrCat("https://localhost:", port_, "/v1")
              : absl::StrCat("http://127.0.0.1:", port_, "/v1");
}

std::string FakeOpenAiServer::last_body() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_body_;
}

std::vector<std::string> FakeOpenAiServer::bodies() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bodies_;
}

std::optional<absl::Time> FakeOpenAiServer::FirstTokenSent(const std::string& user_text) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = first_token_sent_.find(user_text);
  if (it == first_token_sent_.end()) return std::nullopt;
  return it->second;
}

std::string FakeOpenAiServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_authorization_;
}

bool FakeOpenAiServer::WaitForDisconnect(absl::Duration timeout, absl::Time* when) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool seen = disconnected_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
    return disconnects_.size() > disconnects_taken_;
  });
  if (!seen) return false;
  if (when != nullptr) *when = disconnects_[disconnects_taken_];
  ++disconnects_taken_;
  return seen;
}

}  // namespace voxflow::orchestrator::testing
