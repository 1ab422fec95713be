#include "server/subscription_hub.h"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace sluice::server {

ViewFeed::ViewFeed(std::shared_ptr<store::View> view, const FeedLimits& limits)
    : view_(std::move(view)),
      log_(limits.max_deltas, limits.max_bytes),
      coalesce_after_deltas_(limits.coalesce_after_deltas),
      coalesce_after_bytes_(limits.coalesce_after_bytes) {}

void ViewFeed::Attach() {
  // The hub keeps this feed alive until it unsubscribes, so the listener may use `this`.
  subscription_ = view_->SubscribeChanges(
      [this](const std::shared_ptr<const store::ViewDelta>& delta) { OnDelta(delta); },
      [this](uint64_t version) { OnRegistered(version); });
}

void ViewFeed::OnRegistered(uint64_t version) {
  std::lock_guard lock(mu_);
  log_.Reset(version);
  ready_ = true;
  WakeAllLocked();
}

void ViewFeed::OnDelta(const std::shared_ptr<const store::ViewDelta>& delta) {
  std::lock_guard lock(mu_);
  if (delta->dropped) {
    dropped_ = true;
    dropped_text_ = delta->text;
  } else {
    // View::Reset (a restore) may move the version without a delta: start the log over there;
    // subscribers whose cursor it no longer covers get a fresh snapshot.
    if (delta->version != log_.last_version() + 1) log_.Reset(delta->version - 1);
    log_.Append(delta);
  }
  WakeAllLocked();
}

void ViewFeed::WakeAllLocked() {
  for (const auto& group : groups_) {
    if (group->wake_pending || group->members.empty()) continue;
    group->wake_pending = true;
    boost::asio::post(group->executor,
                      [self = shared_from_this(), g = group.get()] { self->WakeGroup(g); });
  }
}

// Runs on the group's executor, the only thread its members are destroyed on: they stay valid
// through the loop (Wake() starts writes, it never destroys a member).
void ViewFeed::WakeGroup(Group* group) {
  {
    std::lock_guard lock(mu_);
    group->wake_pending = false;
    group->waking.assign(group->members.begin(), group->members.end());
  }
  for (FeedMember* member : group->waking) member->Wake();
}

size_t ViewFeed::MemberCountLocked() const {
  size_t n = 0;
  for (const auto& group : groups_) n += group->members.size();
  return n;
}

std::shared_ptr<FeedChannel> ViewFeed::Channel(const std::string& where, store::RowFilter filter) {
  std::lock_guard lock(mu_);
  std::weak_ptr<FeedChannel>& slot = channels_[where];
  if (auto existing = slot.lock()) return existing;
  auto channel = std::make_shared<FeedChannel>();
  channel->where = where;
  channel->filter = std::move(filter);
  slot = channel;
  std::erase_if(channels_, [](const auto& entry) { return entry.second.expired(); });
  return channel;
}

FeedMessage ViewFeed::Next(FeedChannel& channel, FeedCursor& cursor) {
  thread_local std::vector<std::shared_ptr<const store::ViewDelta>> deltas;
  // `have` moves past deltas the filter left empty: they change nothing the client holds, so
  // the next message still applies on top of cursor.client.
  const std::optional<uint64_t> client = cursor.client;
  std::optional<uint64_t> have;
  if (client) have = cursor.scanned;
  for (;;) {
    deltas.clear();
    bool coalesce = false;
    FeedMessage message;
    {
      std::lock_guard lock(mu_);
      if (!ready_) return message;
      if (have && log_.Covers(*have)) {
        if (*have == log_.last_version()) {
          cursor.scanned = *have;
          if (!dropped_) return message;
          message.kind = FeedMessage::Kind::kDropped;
          message.text = dropped_text_;
          message.version = *have;
          return message;
        }
        // A subscriber a few versions behind (a burst of deltas while its last write
        // completed, or a paced one) gets them one by one; one further behind gets a single
        // coalesced delta of all of them.
        coalesce = log_.last_version() - *have > coalesce_after_deltas_ ||
                   log_.TextBytesAfter(*have) > coalesce_after_bytes_;
        log_.CollectAfter(*have, deltas, coalesce ? SIZE_MAX : 1);
      }
    }
    if (deltas.empty()) {  // nothing sent yet, or the cursor fell off the log
      uint64_t version = 0;
      Result<std::string> snapshot = view_->SnapshotJson(channel.filter.keep, &version,
                                                         channel.filter.from, channel.filter.to);
      if (!snapshot.ok()) {
        message.kind = FeedMessage::Kind::kFailed;
        message.text = std::make_shared<const std::string>(snapshot.status().message());
        return message;
      }
      message.kind = FeedMessage::Kind::kSnapshot;
      message.text = std::make_shared<const std::string>(std::move(snapshot).value());
      message.version = version;
      message.resync = client.has_value();
      cursor.client = cursor.scanned = version;
      return message;
    }
    const uint64_t since = *client;
    const uint64_t version = deltas.back()->version;
    message.kind = FeedMessage::Kind::kDelta;
    message.version = version;
    message.coalesced = deltas.size() > 1;
    if (!message.coalesced && !channel.filter.keep) {
      message.text = deltas.front()->text;
      deltas.clear();
      cursor.client = cursor.scanned = version;
      return message;
    }
    {
      std::lock_guard lock(channel.mu);
      if (channel.cached_version == version && channel.cached_since == since) {
        message.text = channel.cached_text;
      } else {
        const store::CoalescedChanges changes = store::CoalesceDeltas(deltas, channel.filter.keep);
        if (!changes.empty())
          message.text = std::make_shared<const std::string>(store::DeltaJson(
              view_->name(), version, since, deltas.back()->position, message.coalesced, changes));
        channel.cached_since = since;
        channel.cached_version = version;
        channel.cached_text = message.text;
      }
    }
    deltas.clear();
    if (message.text != nullptr) {
      cursor.client = cursor.scanned = version;
      return message;
    }
    have = version;  // nothing of the filter's changed: skip to the next delta, if any
  }
}

std::shared_ptr<ViewFeed> SubscriptionHub::Join(const std::shared_ptr<store::View>& view,
                                                const boost::asio::any_io_executor& executor,
                                                FeedMember* member) {
  std::lock_guard hub_lock(mu_);
  std::shared_ptr<ViewFeed>& feed = feeds_[view.get()];
  const bool created = feed == nullptr;
  if (created) feed = std::make_shared<ViewFeed>(view, limits_);
  {
    std::lock_guard lock(feed->mu_);
    auto group = std::find_if(feed->groups_.begin(), feed->groups_.end(),
                              [&](const auto& g) { return g->executor == executor; });
    if (group == feed->groups_.end()) {
      feed->groups_.push_back(std::make_unique<ViewFeed::Group>());
      feed->groups_.back()->executor = executor;
      group = std::prev(feed->groups_.end());
    }
    (*group)->members.push_back(member);
  }
  if (created) feed->Attach();
  return feed;
}

void SubscriptionHub::Leave(const std::shared_ptr<ViewFeed>& feed, FeedMember* member) {
  std::lock_guard hub_lock(mu_);
  {
    std::lock_guard lock(feed->mu_);
    for (const auto& group : feed->groups_) std::erase(group->members, member);
    if (feed->MemberCountLocked() > 0) return;
  }
  // The last subscriber left: stop collecting deltas (Unsubscribe waits for a running Apply).
  feed->view_->Unsubscribe(feed->subscription_);
  auto it = feeds_.find(feed->view_.get());
  if (it != feeds_.end() && it->second == feed) feeds_.erase(it);
}

}  // namespace sluice::server
