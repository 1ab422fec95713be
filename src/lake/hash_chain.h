// Tamper evidence for the archive (issue #6): an append-only hash chain of the data files a
// lake table committed, and the check that every committed file is still what was committed.
//
// The chain is a text file of JSON lines, one per event, each carrying the SHA-256 of the
// previous line's hash and of its own contents:
//   {"seq":1,"op":"add","path":"data/…/f.parquet","size":123,"sha256":"<hex>",
//    "at":"<RFC 3339>","commit":7,"prev":"<hex>","hash":"<hex>"}
//   {"seq":2,"op":"remove","path":"data/…/f.parquet","reason":"retention",…}
// `hash` = SHA-256 of the line's text before `,"hash":` (which holds `prev`, the previous line's
// hash); the first line's `prev` is 64 zeros. Editing, removing or reordering any line breaks every
// later link; a file changed or deleted outside a "remove" entry is found by re-hashing it.
//
// What a caller may rely on:
// - Append* write one line and fsync it before returning: the archive appends a file's "add"
//   before the table commit that references it, so every committed file is in the chain (a
//   crash in between leaves an "add" for a file no snapshot references, reported as such by
//   the table's own checks, never as tampering).
// - Open() of a chain whose last line was torn by a crash (no final newline) truncates that
//   line: it was never acknowledged.
// - Verify() reads only; it reports, never repairs.
// - One writer per chain (the table's archive pipeline); not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sluice::lake {

// The SHA-256 of a file's bytes, as 64 lowercase hex digits.
Result<std::string> FileSha256(const std::string& path);

class HashChain {
 public:
  // Opens (creating) the chain at `path`; verifies the links of what it holds (Corruption
  // when broken: the writer refuses to extend a tampered chain).
  static Result<std::unique_ptr<HashChain>> Open(std::string path);
  ~HashChain();

  // `relative_path` is relative to the table's directory (what Verify resolves it against).
  // `commit` names the table commit the entry belongs to (the archive: the sequence number of
  // the snapshot that adds or removes the file); it is recorded, not checked.
  Status AppendAdded(std::string_view relative_path, uint64_t size, std::string_view sha256_hex,
                     int64_t at_micros, uint64_t commit);
  Status AppendRemoved(std::string_view relative_path, std::string_view reason, int64_t at_micros,
                       uint64_t commit);

  uint64_t entries() const { return seq_; }
  const std::string& head() const { return head_; }  // the last line's hash

 private:
  HashChain(std::string path, int fd, uint64_t seq, std::string head);
  Status AppendLine(std::string line_without_hash);

  std::string path_;
  int fd_;
  uint64_t seq_;
  std::string head_;
};

struct VerifyReport {
  uint64_t entries = 0;                   // lines read
  uint64_t files_checked = 0;             // live files re-hashed
  std::vector<std::string> broken_links;  // "line N: …" (the chain itself was altered)
  std::vector<std::string> changed;       // live files whose size or SHA-256 differ
  std::vector<std::string> missing;       // live files that no longer exist

  bool ok() const { return broken_links.empty() && changed.empty() && missing.empty(); }
  std::string ToJson() const;
};

// Checks the chain at `chain_path` and re-hashes every file it lists as live (added and not
// removed), resolved against `table_dir`; with `rehash` false only checks that they exist.
// IOError only when the chain cannot be read at all.
Result<VerifyReport> Verify(const std::string& chain_path, const std::string& table_dir,
                            bool rehash = true);

}  // namespace sluice::lake
