// SPDX-License-Identifier: Apache-2.0
// job_rows.hpp: the one mapping between a JobRecord and the columns of the jobs table through
// Poco::Data, shared by the SQLite and PostgreSQL backends (their schemas keep the same columns
// in the same order; docs/decisions/002-storage-schema.md).
#pragma once

#include <Poco/Data/LOB.h>
#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>
#include <Poco/Types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.hpp"

namespace blueprint::host::job_rows {

/// The columns of a JobRecord, in the order fetch() extracts them.
inline const char* const kColumns =
    "job_id, agent_id, blueprint_id, agent_version, status, payload, artifact, error, "
    "created_at_ms, started_at_ms, finished_at_ms, attempts, trace, lease_token, lease_until_ms, "
    "cancel_requested, created_by";

/// What follows `INSERT INTO jobs (kColumns) VALUES (…)` to make it an upsert that replaces
/// every column of an existing job (putJob, putFinishedRuns). The idempotency key is not among
/// them, so a job keeps the one it was created with. SQLite and PostgreSQL share the syntax.
inline const char* const kUpsertTail =
    " ON CONFLICT (job_id) DO UPDATE SET agent_id = excluded.agent_id,"
    " blueprint_id = excluded.blueprint_id, agent_version = excluded.agent_version,"
    " status = excluded.status, payload = excluded.payload,"
    " artifact = excluded.artifact, error = excluded.error,"
    " created_at_ms = excluded.created_at_ms, started_at_ms = excluded.started_at_ms,"
    " finished_at_ms = excluded.finished_at_ms, attempts = excluded.attempts,"
    " trace = excluded.trace, lease_token = excluded.lease_token,"
    " lease_until_ms = excluded.lease_until_ms,"
    " cancel_requested = excluded.cancel_requested, created_by = excluded.created_by";

/// JSON as stored. Invalid UTF-8 (a block's error text, say) is replaced rather than failing the
/// write: losing a byte beats losing the job's final state.
inline std::string toText(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

/// Free text comes back through a BLOB because Poco's string extractor stops at the first NUL
/// byte; the column stays text.
inline std::string fromBlob(const Poco::Data::BLOB& blob) {
  if (blob.size() == 0) return std::string();
  return std::string(reinterpret_cast<const char*>(blob.rawContent()), blob.size());
}

inline Poco::Nullable<Poco::Int64> toNullable(const std::optional<std::int64_t>& value) {
  return value ? Poco::Nullable<Poco::Int64>(*value) : Poco::Nullable<Poco::Int64>();
}

inline std::optional<std::int64_t> fromNullable(const Poco::Nullable<Poco::Int64>& value) {
  if (value.isNull()) return std::nullopt;
  return value.value();
}

inline std::optional<std::string> fromNullable(const Poco::Nullable<Poco::Data::BLOB>& value) {
  if (value.isNull()) return std::nullopt;
  return fromBlob(value.value());
}

/// Adds the JobRecord extractions to `stmt` (whose SELECT or RETURNING lists kColumns), runs it
/// and returns the rows. `Flag` is how the backend's driver hands back `cancel_requested`
/// (SQLite: an integer, PostgreSQL: a boolean).
template <typename Flag>
std::vector<JobRecord> fetch(Poco::Data::Statement& stmt) {
  using Poco::Data::Keywords::into;
  std::vector<std::string> job_id, agent_id, blueprint_id, status, payload, trace, created_by;
  std::vector<Poco::Int64> agent_version, created_at_ms, attempts, lease_token;
  std::vector<Flag> cancel_requested;
  std::vector<Poco::Nullable<Poco::Data::BLOB>> artifact, error;
  std::vector<Poco::Nullable<Poco::Int64>> started_at_ms, finished_at_ms, lease_until_ms;
  stmt.addExtract(into(job_id));
  stmt.addExtract(into(agent_id));
  stmt.addExtract(into(blueprint_id));
  stmt.addExtract(into(agent_version));
  stmt.addExtract(into(status));
  stmt.addExtract(into(payload));
  stmt.addExtract(into(artifact));
  stmt.addExtract(into(error));
  stmt.addExtract(into(created_at_ms));
  stmt.addExtract(into(started_at_ms));
  stmt.addExtract(into(finished_at_ms));
  stmt.addExtract(into(attempts));
  stmt.addExtract(into(trace));
  stmt.addExtract(into(lease_token));
  stmt.addExtract(into(lease_until_ms));
  stmt.addExtract(into(cancel_requested));
  stmt.addExtract(into(created_by));
  stmt.execute();

  std::vector<JobRecord> jobs(job_id.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    JobRecord& job = jobs[i];
    job.job_id = std::move(job_id[i]);
    job.agent_id = std::move(agent_id[i]);
    job.blueprint_id = std::move(blueprint_id[i]);
    job.agent_version = agent_version[i];
    job.status = std::move(status[i]);
    job.payload = Json::parse(payload[i]);
    job.artifact = fromNullable(artifact[i]);
    job.error = fromNullable(error[i]);
    job.created_at_ms = created_at_ms[i];
    job.started_at_ms = fromNullable(started_at_ms[i]);
    job.finished_at_ms = fromNullable(finished_at_ms[i]);
    job.attempts = static_cast<std::int32_t>(attempts[i]);
    job.trace = Json::parse(trace[i]);
    job.lease_token = lease_token[i];
    job.lease_until_ms = fromNullable(lease_until_ms[i]);
    job.cancel_requested = static_cast<bool>(cancel_requested[i]);
    job.created_by = std::move(created_by[i]);
  }
  return jobs;
}

}  // namespace blueprint::host::job_rows
