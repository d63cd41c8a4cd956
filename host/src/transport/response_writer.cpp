// SPDX-License-Identifier: Apache-2.0
#include "transport/response_writer.hpp"

#include "transport/one_write_response.hpp"

namespace blueprint::host {

ResponseWriter::ResponseWriter(std::shared_ptr<ResponseOwner> owner, OneWriteResponse& response)
    : owner_(std::move(owner)), response_(&response) {}

ResponseWriter::~ResponseWriter() { finish(false); }

bool ResponseWriter::write(std::string_view bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return false;
  try {
    std::ostream& out = response_->send();
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    return out.good() && !response_->broken();
  } catch (const std::exception&) {
    return false;  // the header could not be written: the client is gone
  }
}

void ResponseWriter::finish(bool keep_alive) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (!keep_alive) response_->setKeepAlive(false);
  try {
    if (!response_->sent())
      response_->sendBuffer(nullptr, 0);
    else
      response_->complete();
  } catch (const std::exception&) {
    // The client is gone; the connection closes below.
  }
  const bool keep = keep_alive && response_->getKeepAlive() && !response_->broken();
  response_ = nullptr;
  owner_->responseFinished(keep);
}

bool ResponseWriter::clientGone() { return owner_->clientGone(); }

void ResponseWriter::neverBlock() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (response_ != nullptr) response_->failWhenFull();
}

void ResponseWriter::onClientGone(std::function<void()> callback) {
  owner_->setClientGoneCallback(std::move(callback));
}

std::shared_ptr<ResponseWriter> detachResponse(Poco::Net::HTTPServerResponse& response) {
  auto* own = dynamic_cast<OneWriteResponse*>(&response);
  return own != nullptr ? own->detach() : nullptr;
}

}  // namespace blueprint::host
