// SPDX-License-Identifier: Apache-2.0
#include "http_client.hpp"

#include "address_policy.hpp"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace blueprint::http {

namespace {

constexpr const char* kCaDirectory = "/etc/ssl/certs";
constexpr int kIdlePollMs = 1000;  ///< the loop's longest sleep; libcurl's own timers cut it short

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

bool isRedirectStatus(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/// The reason phrase of a status line ("HTTP/1.1 404 Not Found\r\n" → "Not Found"): what follows
/// the second space, without the line end. Empty when the line has none.
std::string reasonPhrase(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const std::size_t version_end = line.find(' ');
  if (version_end == std::string_view::npos) return {};
  const std::size_t code_end = line.find(' ', version_end + 1);
  if (code_end == std::string_view::npos) return {};
  return std::string(line.substr(code_end + 1));
}

std::string systemError(long os_errno) {
  return std::system_category().message(static_cast<int>(os_errno));
}

bool isTlsError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct HttpClient::Transfer {
  Handle handle = 0;
  ClientRequest request;
  Completion done;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ClientOutcome outcome;
  std::string last_address;  ///< the address the last socket was opened for
  bool stopped_at_redirect = false;
  bool declared_too_large = false;
  bool body_too_large = false;

  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (header_list != nullptr) curl_slist_free_all(header_list);
  }

  // ---- libcurl callbacks (loop thread) ----

  /// Every socket libcurl opens for this request passes here with the address it will connect
  /// to: the policy refuses it before a byte leaves, on every hop and every address tried.
  static curl_socket_t openSocket(void* user, curlsocktype purpose, curl_sockaddr* address) {
    auto& t = *static_cast<Transfer*>(user);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    const sockaddr& target = address->addr;
    if (t.request.policy) {
      std::string why = t.request.policy(target);
      if (!why.empty()) {
        if (t.outcome.refused_address.empty()) {
          t.outcome.refused_address = addressText(target);
          t.outcome.detail = std::move(why);
        }
        return CURL_SOCKET_BAD;
      }
    }
    t.last_address = addressText(target);
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  }

  static size_t onHeader(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t length = size * count;
    if (t.outcome.head_complete) return length;  // trailers
    const std::string_view line(data, length);
    if (line.rfind("HTTP/", 0) == 0) {
      t.outcome.response.reason = reasonPhrase(line);
      return length;
    }
    if (line != "\r\n" && line != "\n") return length;
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) return length;  // the end of an interim (1xx) head
    ClientResponse& response = t.outcome.response;
    response.status = static_cast<int>(status);
    for (curl_header* h = nullptr;
         (h = curl_easy_nextheader(t.easy, CURLH_HEADER, -1, h)) != nullptr;) {
      response.headers.emplace_back(h->name, h->value);
      if (response.content_type.empty() && equalsIgnoringCase(h->name, "content-type"))
        response.content_type = h->value;
    }
    curl_off_t content_length = -1;
    curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &content_length);
    if (content_length >= 0) response.content_length = static_cast<std::uint64_t>(content_length);
    t.outcome.head_complete = true;
    const bool has_location = std::any_of(
        response.headers.begin(), response.headers.end(),
        [](const auto& header) { return equalsIgnoringCase(header.first, "location"); });
    if (t.request.stop_at_redirect && isRedirectStatus(status) && has_location) {
      t.stopped_at_redirect = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR), recognised by the flag
    }
    if (t.request.method != "HEAD" && response.content_length &&
        *response.content_length > t.request.max_body_bytes) {
      t.declared_too_large = true;
      return 0;
    }
    return length;
  }

  static size_t onBody(char* data, size_t size, size_t count, void* user) {
    auto& t = *static_cast<Transfer*>(user);
    const size_t length = size * count;
    std::string& body = t.outcome.response.body;
    if (body.size() + length > t.request.max_body_bytes) {
      t.body_too_large = true;
      return 0;
    }
    body.append(data, length);
    return length;
  }

  /// Sets the easy handle up; false (with outcome.detail) when libcurl refuses an option.
  bool configure(const char* ca_directory) {
    easy = curl_easy_init();
    if (easy == nullptr) {
      outcome.detail = "libcurl cannot create a transfer";
      return false;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(request.deadline - Clock::now()).count();
    const ClientRequest& r = request;
    bool has_type = false, has_accept = false, has_expect = false;
    for (const auto& [name, value] : r.headers) {
      has_type |= equalsIgnoringCase(name, "content-type");
      has_accept |= equalsIgnoringCase(name, "accept");
      has_expect |= equalsIgnoringCase(name, "expect");
      // "Name;" is libcurl's way to send a header with an empty value ("Name:" removes it).
      const std::string line = value.empty() ? name + ";" : name + ": " + value;
      header_list = curl_slist_append(header_list, line.c_str());
    }
    // libcurl's defaults that the request did not ask for stay out of it.
    if (!has_accept) header_list = curl_slist_append(header_list, "Accept:");
    if (!has_expect) header_list = curl_slist_append(header_list, "Expect:");
    if (!has_type && r.send_body) header_list = curl_slist_append(header_list, "Content-Type:");

    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
      if (rc == CURLE_OK) rc = curl_easy_setopt(easy, option, value);
    };
    set(CURLOPT_PRIVATE, static_cast<void*>(this));
    set(CURLOPT_ERRORBUFFER, error);
    set(CURLOPT_URL, r.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_PROXY, "");  // never a proxy from the environment: the policy judges the target
    set(CURLOPT_NOSIGNAL, 1L);
    // A connection of one request never serves another: each request's policy (and operator
    // setting) was checked on a socket of its own.
    set(CURLOPT_FORBID_REUSE, 1L);
    set(CURLOPT_FRESH_CONNECT, 1L);
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    set(CURLOPT_PATH_AS_IS, 1L);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_directory != nullptr) set(CURLOPT_CAPATH, ca_directory);
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long long>(left, 1)));
    // A request cancelled while its name resolves does not hold the loop until the resolver
    // thread returns; that thread finishes on its own (libcurl stays loaded, see plugin.cpp).
    set(CURLOPT_QUICK_EXIT, 1L);
    set(CURLOPT_HTTPHEADER, header_list);
    set(CURLOPT_OPENSOCKETFUNCTION, &Transfer::openSocket);
    set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(this));
    set(CURLOPT_HEADERFUNCTION, &Transfer::onHeader);
    set(CURLOPT_HEADERDATA, static_cast<void*>(this));
    set(CURLOPT_WRITEFUNCTION, &Transfer::onBody);
    set(CURLOPT_WRITEDATA, static_cast<void*>(this));
    if (r.method == "HEAD") {
      set(CURLOPT_NOBODY, 1L);
    } else if (r.send_body) {
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      set(CURLOPT_POSTFIELDS, r.body.data());
      if (r.method != "POST") set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
    } else if (r.method == "GET") {
      set(CURLOPT_HTTPGET, 1L);
    } else {
      set(CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    if (rc != CURLE_OK) {
      outcome.detail = curl_easy_strerror(rc);
      return false;
    }
    return true;
  }
};

HttpClient::HttpClient() {
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("libcurl cannot create a multi handle");
  thread_ = std::thread([this] { loop(); });
}

HttpClient::~HttpClient() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

HttpClient::Handle HttpClient::start(ClientRequest request, Completion done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  Handle handle = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      handle = next_handle_++;
      transfer->handle = handle;
      starting_.push_back(std::move(transfer));
      ++in_flight_;
    }
  }
  if (handle == 0) {
    ClientOutcome outcome;
    outcome.error = ClientError::Stopped;
    outcome.detail = "the HTTP client has stopped";
    transfer->done(std::move(outcome));
    return 0;
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return handle;
}

void HttpClient::cancel(Handle handle) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    cancelling_.push_back(handle);
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

std::size_t HttpClient::inFlight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_flight_;
}

void HttpClient::loop() {
  auto* multi = static_cast<CURLM*>(multi_);
  std::error_code ec;
  const char* ca_directory =
      std::filesystem::is_directory(kCaDirectory, ec) ? kCaDirectory : nullptr;
  for (;;) {
    std::vector<std::unique_ptr<Transfer>> starting;
    std::vector<Handle> cancelling;
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      starting.swap(starting_);
      cancelling.swap(cancelling_);
      stopping = stopping_;
    }
    for (auto& transfer : starting) {
      if (!transfer->configure(ca_directory)) {
        ClientOutcome outcome;
        outcome.error = ClientError::BadRequest;
        outcome.detail = transfer->outcome.detail;
        complete(std::move(transfer), std::move(outcome));
        continue;
      }
      if (transfer->request.deadline <= Clock::now()) {
        ClientOutcome outcome;
        outcome.error = ClientError::TimedOut;
        complete(std::move(transfer), std::move(outcome));
        continue;
      }
      if (const CURLMcode rc = curl_multi_add_handle(multi, transfer->easy); rc != CURLM_OK) {
        ClientOutcome outcome;
        outcome.error = ClientError::BadRequest;
        outcome.detail = curl_multi_strerror(rc);
        complete(std::move(transfer), std::move(outcome));
        continue;
      }
      const Handle handle = transfer->handle;
      running_.emplace(handle, std::move(transfer));
    }
    for (const Handle handle : cancelling) {
      auto it = running_.find(handle);
      if (it == running_.end()) continue;  // completed already
      std::unique_ptr<Transfer> transfer = std::move(it->second);
      running_.erase(it);
      curl_multi_remove_handle(multi, transfer->easy);
      ClientOutcome outcome;
      outcome.error = ClientError::Cancelled;
      outcome.address = transfer->last_address;
      complete(std::move(transfer), std::move(outcome));
    }
    if (stopping) {
      for (auto& [handle, transfer] : running_) {
        curl_multi_remove_handle(multi, transfer->easy);
        ClientOutcome outcome;
        outcome.error = ClientError::Stopped;
        outcome.detail = "the HTTP client has stopped";
        complete(std::move(transfer), std::move(outcome));
      }
      running_.clear();
      return;
    }

    int still_running = 0;
    curl_multi_perform(multi, &still_running);
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;  // the message dies with the handle's removal
      void* user = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &user);
      finish(*static_cast<Transfer*>(user), static_cast<int>(code));
    }
    curl_multi_poll(multi, nullptr, 0, kIdlePollMs, nullptr);
  }
}

void HttpClient::finish(Transfer& done_transfer, int curl_code) {
  auto it = running_.find(done_transfer.handle);
  if (it == running_.end()) return;
  std::unique_ptr<Transfer> transfer = std::move(it->second);
  running_.erase(it);
  Transfer& t = *transfer;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), t.easy);

  const auto code = static_cast<CURLcode>(curl_code);
  ClientOutcome outcome = std::move(t.outcome);
  char* primary_ip = nullptr;
  if (curl_easy_getinfo(t.easy, CURLINFO_PRIMARY_IP, &primary_ip) == CURLE_OK &&
      primary_ip != nullptr && *primary_ip != '\0')
    outcome.address = primary_ip;
  else
    outcome.address = t.last_address;
  std::string words = t.error[0] != '\0' ? std::string(t.error) : curl_easy_strerror(code);
  long os_errno = 0;
  curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);

  if (t.stopped_at_redirect) {
    outcome.error = ClientError::None;
  } else if (t.declared_too_large) {
    outcome.error = ClientError::DeclaredTooLarge;
  } else if (t.body_too_large) {
    outcome.error = ClientError::BodyTooLarge;
    outcome.response.body.clear();
  } else if (code == CURLE_OK) {
    outcome.error = outcome.head_complete ? ClientError::None : ClientError::Read;
    if (!outcome.head_complete) outcome.detail = "the server sent no response head";
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    outcome.error = ClientError::TimedOut;
    outcome.detail = std::move(words);
  } else if (code == CURLE_COULDNT_CONNECT && !outcome.refused_address.empty()) {
    outcome.error = ClientError::Refused;  // detail: the policy's reason, set when it refused
  } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
    outcome.error = ClientError::Resolve;
    outcome.detail = std::move(words);
  } else if (isTlsError(code)) {
    outcome.error = ClientError::Tls;
    outcome.detail = std::move(words);
  } else if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL ||
             code == CURLE_BAD_FUNCTION_ARGUMENT || code == CURLE_NOT_BUILT_IN) {
    outcome.error = ClientError::BadRequest;
    outcome.detail = std::move(words);
  } else {
    outcome.error = outcome.head_complete ? ClientError::Read : ClientError::Connect;
    // The system's words ("Connection refused") say more than libcurl's summary.
    outcome.detail = os_errno != 0 ? systemError(os_errno) : std::move(words);
  }
  complete(std::move(transfer), std::move(outcome));
}

void HttpClient::complete(std::unique_ptr<Transfer> transfer, ClientOutcome outcome) {
  Completion done = std::move(transfer->done);
  transfer.reset();  // the easy handle goes before the completion may free what it used
  try {
    done(std::move(outcome));
  } catch (...) {
    // A completion must not throw; one that does cannot take the loop (and every other
    // request) down with it.
  }
  std::lock_guard<std::mutex> lock(mutex_);
  --in_flight_;
}

}  // namespace blueprint::http
