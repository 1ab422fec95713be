// Internal to the server module: the fan-out of view deltas to WebSocket subscribers.
//
// One ViewFeed per subscribed view holds the view's recent deltas (store::DeltaLog) and the
// subscribers (FeedMember) grouped by the I/O thread (executor) they live on. The pipeline
// thread's work per delta does not depend on the number of subscribers: it appends the delta to
// the log and posts at most one wake-up per I/O thread. Each subscriber holds a cursor (the
// version its client has) and, whenever it is not writing, asks Next() for what to send:
//   - a few deltas behind (a burst that arrived while its last write completed): the next
//     delta itself (the same shared bytes for every unfiltered client);
//   - more than FeedLimits::coalesce_after_* behind: ONE coalesced delta
//     (store::CoalesceDeltas) with "since" = its cursor;
//   - behind further than the log reaches: a fresh snapshot, sent in place;
//   - filtered (?where=): the same, keeping only matching rows; deltas left empty are skipped.
// So a slow client costs a cursor and one message in flight, and never slows the pipeline or
// other clients. Messages computed for a (channel, since, version) are cached, so clients of
// the same filter at the same cursor share them.
//
// Threading: the hub and feeds are thread-safe. A member's Wake() runs on the executor it
// joined with; a member must Leave() (on that executor) before it is destroyed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "store/delta_log.h"
#include "store/view.h"

namespace sluice::server {

class FeedMember {
 public:
  // New deltas may be available: call ViewFeed::Next() unless a write is in flight.
  virtual void Wake() = 0;

 protected:
  ~FeedMember() = default;
};

// The subscribers of one filter (or of none) of a feed, and the last message computed for them.
struct FeedChannel {
  std::string where;        // empty: unfiltered
  store::RowFilter filter;  // empty: unfiltered
  std::mutex mu;
  uint64_t cached_since = 0;
  uint64_t cached_version = 0;                     // 0: nothing cached
  std::shared_ptr<const std::string> cached_text;  // nullptr with a cached version: filtered empty
};

// A subscriber's position: the version its client holds (nullopt: nothing sent yet) and how far
// the feed has looked (past deltas its filter left empty); Next() advances both.
struct FeedCursor {
  std::optional<uint64_t> client;
  uint64_t scanned = 0;
};

struct FeedMessage {
  // kFailed: the snapshot could not be read (text: why); the subscription ends with an error.
  enum class Kind { kNothing, kSnapshot, kDelta, kDropped, kFailed };
  Kind kind = Kind::kNothing;
  std::shared_ptr<const std::string> text;
  uint64_t version = 0;    // the version the client holds once this is applied
  bool coalesced = false;  // a delta spanning several versions
  bool resync = false;     // a snapshot because the cursor fell off the log
};

struct FeedLimits {
  size_t max_deltas = store::DeltaLog::kDefaultMaxDeltas;  // the log's bounds
  size_t max_bytes = store::DeltaLog::kDefaultMaxBytes;
  // A subscriber behind by more deltas, or more bytes of delta text, gets one coalesced delta.
  size_t coalesce_after_deltas = 64;
  size_t coalesce_after_bytes = 1u << 20;
};

class ViewFeed : public std::enable_shared_from_this<ViewFeed> {
 public:
  ViewFeed(std::shared_ptr<store::View> view, const FeedLimits& limits);

  const std::shared_ptr<store::View>& view() const { return view_; }

  // The channel for `where` (shared by subscribers with the same text); `filter` is used when
  // the channel is new.
  std::shared_ptr<FeedChannel> Channel(const std::string& where, store::RowFilter filter);

  // What a subscriber of `channel` at `cursor` sends next (kNothing: nothing new for it); moves
  // the cursor past what it returns and past deltas its filter leaves empty.
  FeedMessage Next(FeedChannel& channel, FeedCursor& cursor);

 private:
  friend class SubscriptionHub;
  struct Group {
    boost::asio::any_io_executor executor;
    std::vector<FeedMember*> members;
    std::vector<FeedMember*> waking;  // a copy of members, used by WakeGroup only
    bool wake_pending = false;
  };

  void Attach();  // subscribes to the view
  void OnRegistered(uint64_t version);
  void OnDelta(const std::shared_ptr<const store::ViewDelta>& delta);
  void WakeAllLocked();
  void WakeGroup(Group* group);
  size_t MemberCountLocked() const;

  const std::shared_ptr<store::View> view_;
  std::mutex mu_;
  store::DeltaLog log_;
  const size_t coalesce_after_deltas_;
  const size_t coalesce_after_bytes_;
  bool ready_ = false;    // the view registered us (it may be restoring until then)
  bool dropped_ = false;  // the view was dropped: send dropped_text_ once caught up
  std::shared_ptr<const std::string> dropped_text_;
  std::vector<std::unique_ptr<Group>> groups_;  // never shrinks: one per I/O thread
  std::map<std::string, std::weak_ptr<FeedChannel>> channels_;
  uint64_t subscription_ = 0;
};

class SubscriptionHub {
 public:
  explicit SubscriptionHub(const FeedLimits& limits) : limits_(limits) {}

  // Adds `member` (woken on `executor`) to the feed of `view`, creating and attaching it.
  std::shared_ptr<ViewFeed> Join(const std::shared_ptr<store::View>& view,
                                 const boost::asio::any_io_executor& executor, FeedMember* member);
  // Removes `member`; the last one out detaches the feed from its view.
  void Leave(const std::shared_ptr<ViewFeed>& feed, FeedMember* member);

 private:
  const FeedLimits limits_;
  std::mutex mu_;
  std::map<const store::View*, std::shared_ptr<ViewFeed>> feeds_;
};

}  // namespace sluice::server
