// SPDX-License-Identifier: Apache-2.0
// poco_sse_server.cpp: the reference of the sync benchmark (issue 6): a bare Poco HTTPServer
// whose one handler parses the trigger body like the host does and answers with the same SSE
// events, headers and framing, the body in one write. It is the ceiling of our HTTP stack: the
// host can only add auth, routing, the engine and the plugin calls on top of it.
//
//   poco_sse_server --listen 127.0.0.1:PORT [--key KEY] [--blueprint hello] [--mode sse|json|flush]
//
// `sse` (default) sends the body with sendBuffer (one write); `flush` writes and flushes each
// event through a chunked stream; `json` answers {"delta": …} as application/json.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using Json = nlohmann::json;

enum class Mode { Sse, Flush, Json };

struct Settings {
  std::string listen = "127.0.0.1:18090";
  std::string key;  ///< empty: no Authorization check
  std::string blueprint = "hello";
  Mode mode = Mode::Sse;
};

/// A job-id shaped value (36 characters, like the host's UUIDs) so the headers match in size.
std::string nextJobId() {
  static std::atomic<unsigned long long> counter{0};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012llx", ++counter);
  return buf;
}

void sendError(Poco::Net::HTTPServerResponse& response, Poco::Net::HTTPResponse::HTTPStatus status,
               const char* code, const char* message) {
  const std::string body = Json{{"error", {{"code", code}, {"message", message}}}}.dump();
  response.setStatus(status);
  response.setContentType("application/json");
  response.sendBuffer(body.data(), body.size());
}

class TriggerHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TriggerHandler(const Settings& settings) : settings_(settings) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    if (!settings_.key.empty()) {
      const std::string& auth =
          request.get(Poco::Net::HTTPRequest::AUTHORIZATION, Poco::Net::HTTPMessage::EMPTY);
      if (auth.size() != settings_.key.size() + 7 || auth.compare(0, 7, "Bearer ") != 0 ||
          auth.compare(7, std::string::npos, settings_.key) != 0)
        return sendError(response, Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED, "unauthorized",
                         "missing or wrong API key");
    }
    std::string body;
    const std::streamsize declared = request.getContentLength();
    if (declared > 0) {
      body.resize(static_cast<std::size_t>(declared));
      request.stream().read(body.data(), declared);
      body.resize(static_cast<std::size_t>(request.stream().gcount()));
    }
    Json payload = Json::parse(body, nullptr, false);
    if (payload.is_discarded() || !payload.is_object() || !payload.contains("inputs") ||
        !payload["inputs"].is_object())
      return sendError(response, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST, "invalid_request",
                       "the body must be a JSON object with an object `inputs`");
    const Json& name = payload["inputs"]["name"];
    std::string greeting = "Hello, ";
    greeting += name.is_string() ? name.get<std::string>() : name.dump();
    greeting += "!";

    if (settings_.mode == Mode::Json) {
      const std::string out = Json{{"delta", greeting}}.dump();
      response.setContentType("application/json");
      response.sendBuffer(out.data(), out.size());
      return;
    }
    const std::string events[] = {
        R"({"status":"in progress","message":null})",
        // Ordered, so the keys leave in the host's order.
        nlohmann::ordered_json{{"status", "executing"},
                               {"message", "Executing blueprint " + settings_.blueprint + "..."}}
            .dump(),
        Json{{"delta", greeting}}.dump(),
        "[DONE]",
    };
    response.setContentType("text/event-stream");
    response.set("Cache-Control", "no-cache");
    response.set("X-Accel-Buffering", "no");
    response.set("X-Job-Id", nextJobId());
    if (settings_.mode == Mode::Flush) {
      response.setChunkedTransferEncoding(true);
      std::ostream& out = response.send();
      for (const std::string& e : events) out << "data: " << e << "\n\n" << std::flush;
      return;
    }
    std::string out;
    for (const std::string& e : events) {
      out += "data: ";
      out += e;
      out += "\n\n";
    }
    response.sendBuffer(out.data(), out.size());
  }

 private:
  const Settings& settings_;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(const Settings& settings) : settings_(settings) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new TriggerHandler(settings_);
  }

 private:
  const Settings& settings_;
};

volatile sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--listen")
      settings.listen = value;
    else if (flag == "--key")
      settings.key = value;
    else if (flag == "--blueprint")
      settings.blueprint = value;
    else if (flag == "--mode")
      settings.mode = value == "json" ? Mode::Json : value == "flush" ? Mode::Flush : Mode::Sse;
    else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  // The same connection-thread settings as the host's defaults (host_config.hpp), so both
  // serve 64 keep-alive connections on 64 threads.
  Poco::ThreadPool pool(8, 256);
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(256);
  params->setMaxQueued(1024);
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);
  Poco::Net::ServerSocket socket;
  socket.bind(Poco::Net::SocketAddress(settings.listen), true, false);
  socket.listen(1024);
  Poco::Net::HTTPServer server(new HandlerFactory(settings), pool, socket, params);
  server.start();
  std::cout << "reference listening on " << settings.listen << std::endl;
  signal(SIGTERM, onSignal);
  signal(SIGINT, onSignal);
  while (!g_stop) pause();
  server.stopAll(true);
  return 0;
}
