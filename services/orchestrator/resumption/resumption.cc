#include "services/orchestrator/resumption/resumption.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/orchestrator/resumption/redis_session_state_store.h"

namespace voxflow::orchestrator {

Resumption::Resumption(ResumeTokens tokens, LiveSessions* live,
                       std::unique_ptr<SessionStateStore> shared, std::string replica,
                       StoreOutage* outage, std::function<absl::Time()> now)
    : tokens_(std::move(tokens)),
      live_(live),
      shared_(std::move(shared)),
      replica_(std::move(replica)),
      outage_(outage),
      now_(std::move(now)) {
  if (shared_ != nullptr) writer_ = std::thread([this] { WriteLoop(); });
}

Resumption::~Resumption() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::string Resumption::NewOwner() {
  std::lock_guard<std::mutex> lock(mu_);
  return absl::StrCat(replica_, "/", ++serial_);
}

std::string Resumption::Token(const std::string& session_id) const {
  return tokens_.Issue(session_id, now_());
}

void Resumption::Noted(const absl::Status& status) {
  // The store's own answers (ALREADY_EXISTS, ABORTED, NOT_FOUND) say it is up.
  if (outage_ == nullptr) return;
  outage_->Note(absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status), status.message());
}

absl::StatusOr<SessionClaim> Resumption::Begin(const std::string& requested_id,
                                               const std::string& resume_token,
                                               std::weak_ptr<LiveSession> session) {
  SessionClaim claim;
  claim.owner = NewOwner();
  if (resume_token.empty()) {
    absl::StatusOr<std::string> id = ClaimSessionId(live_, requested_id, claim.owner, session);
    if (!id.ok()) return id.status();
    claim.session_id = *std::move(id);
    if (shared_ != nullptr) {
      absl::Status created = shared_->Create(claim.session_id, claim.owner);
      if (absl::IsAlreadyExists(created)) {
        live_->Release(claim.session_id, claim.owner);
        return absl::AlreadyExistsError(absl::StrCat(
            "config.session_id ", QuoteClientValue(requested_id),
            " names a conversation that may still be resumed (its state is kept for "
            "--session_ttl): resume it with its resume token, or leave session_id empty"));
      }
      if (!created.ok()) Noted(created);
    }
    KeepLocally(claim.session_id, {.owner = claim.owner});
    claim.resume_token = Token(claim.session_id);
    return claim;
  }

  absl::StatusOr<std::string> id = tokens_.Verify(resume_token, now_());
  if (!id.ok()) return id.status();
  if (!requested_id.empty() && requested_id != *id) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.session_id ", QuoteClientValue(requested_id),
                     " is not the session config.resume_token resumes (leave it empty)"));
  }
  claim.session_id = *std::move(id);
  absl::StatusOr<SessionRecord> before = absl::NotFoundError("no shared store");
  if (shared_ != nullptr) {
    before = shared_->TakeOver(claim.session_id, claim.owner);
    if (!absl::IsNotFound(before.status())) Noted(before.status());
  }
  if (!before.ok()) {
    // Live here (a client reconnecting to the replica that serves it), or a store that lost it.
    absl::StatusOr<SessionRecord> local = local_.TakeOver(claim.session_id, claim.owner);
    if (local.ok()) {
      before = std::move(local);
    } else if (absl::IsUnavailable(before.status())) {
      return absl::UnavailableError(
          absl::StrCat("config.resume_token: the session store is unavailable (",
                       before.status().message(), "); try again, or start a new session"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.resume_token: session ", QuoteClientValue(claim.session_id),
          " has ended or expired (its state is kept for --session_ttl after its last turn); "
          "start a new session"));
    }
  }
  live_->TakeOver(claim.session_id, claim.owner, std::move(session));
  claim.before = *before;
  SessionRecord mine = *before;
  mine.owner = claim.owner;
  KeepLocally(claim.session_id, mine);
  claim.resumed = true;
  claim.resume_token = Token(claim.session_id);
  return claim;
}

void Resumption::KeepLocally(const std::string& id, const SessionRecord& record) {
  (void)local_.TakeOver(id, record.owner);  // A stale record of this id is the new owner's.
  (void)local_.Restore(id, record);
}

void Resumption::Save(const SessionClaim& claim, const SessionRecord& counters) {
  if (absl::IsAborted(local_.Save(claim.session_id, claim.owner, counters))) return;
  if (shared_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PendingSave& pending = pending_[claim.session_id];
    if (pending.owner != claim.owner) pending = PendingSave{claim.owner, {}};
    RaiseTurnCounters(pending.counters, counters);
  }
  wake_.notify_all();
}

void Resumption::SaveNow(const SessionClaim& claim, const SessionRecord& counters) {
  if (absl::IsAborted(local_.Save(claim.session_id, claim.owner, counters))) return;
  if (shared_ == nullptr) return;
  PendingSave save{claim.owner, counters};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = pending_.find(claim.session_id);
        it != pending_.end() && it->second.owner == claim.owner && !it->second.forget) {
      RaiseTurnCounters(save.counters, it->second.counters);
      pending_.erase(it);
    }
  }
  Write(claim.session_id, save);
}

void Resumption::End(const SessionClaim& claim, bool conversation_over) {
  local_.Forget(claim.session_id, claim.owner);
  live_->Release(claim.session_id, claim.owner);
  if (shared_ == nullptr || !conversation_over) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_[claim.session_id] = PendingSave{claim.owner, {}, /*forget=*/true};
  }
  wake_.notify_all();
}

void Resumption::OnTakeOverMessage(const std::string& message) {
  std::string id, owner;
  if (ParseTakeOverMessage(message, &id, &owner)) live_->EndUnlessOwnedBy(id, owner);
}

void Resumption::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait(lock, [this] { return pending_.empty() && !writing_; });
}

void Resumption::WriteLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // Stopping, with nothing left to write.
    auto it = pending_.begin();
    const std::string id = it->first;
    const PendingSave save = std::move(it->second);
    pending_.erase(it);
    writing_ = true;
    lock.unlock();
    Write(id, save);
    lock.lock();
    writing_ = false;
    wake_.notify_all();
  }
}

void Resumption::Write(const std::string& id, const PendingSave& save) {
  if (save.forget) {
    shared_->Forget(id, save.owner);
    return;
  }
  absl::Status saved = shared_->Save(id, save.owner, save.counters);
  if (absl::IsNotFound(saved)) {
    // The store lost the record (restarted, or it expired while the store was down): the live
    // session's record goes back whole.
    SessionRecord record = save.counters;
    record.owner = save.owner;
    saved = shared_->Restore(id, record);
  }
  if (absl::IsAborted(saved)) {
    live_->EndOwnedBy(id, save.owner);  // Taken over elsewhere, and its message missed.
    return;
  }
  Noted(saved);
}

}  // namespace voxflow::orchestrator
