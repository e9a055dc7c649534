#include "paths/message_consumers.h"

#include <thread>

namespace pathbench {

MessageConsumerGroup::MessageConsumerGroup(std::vector<MessageConsumerOptions> options) : options_(std::move(options)) {
  for (auto& o : options_) {
    all_.push_back(std::make_unique<MessageConsumer>(o));
    live_.push_back(all_.back().get());
  }
}

MessageConsumerGroup::~MessageConsumerGroup() {
  std::lock_guard lock(mutex_);
  for (auto& c : all_) c->kill();
}

bool MessageConsumerGroup::kill_worker(int index) {
  std::lock_guard lock(mutex_);
  if (index < 0 || static_cast<std::size_t>(index) >= live_.size()) return false;
  MessageConsumer*& c = live_[static_cast<std::size_t>(index)];
  if (c) {
    c->kill();
    c = nullptr;
    ++killed_;
  }
  return true;
}

bool MessageConsumerGroup::restart_worker(int index) {
  std::lock_guard lock(mutex_);
  if (index < 0 || static_cast<std::size_t>(index) >= live_.size()) return false;
  MessageConsumer*& c = live_[static_cast<std::size_t>(index)];
  if (!c) {
    all_.push_back(std::make_unique<MessageConsumer>(options_[static_cast<std::size_t>(index)]));
    c = all_.back().get();
    if (paused_) c->pause(true);
  }
  return true;
}

bool MessageConsumerGroup::pause_consumers(bool paused) {
  std::lock_guard lock(mutex_);
  paused_ = paused;
  // All at once: a pause may return only once it is applied (RabbitMQ's consumer cancel), and
  // one after the other the last worker would go on consuming meanwhile.
  std::vector<std::thread> pausing;
  for (auto* c : live_)
    if (c) pausing.emplace_back([c, paused] { c->pause(paused); });
  for (auto& t : pausing) t.join();
  return !live_.empty();
}

void MessageConsumerGroup::restore() {
  for (std::size_t i = 0; i < options_.size(); ++i) restart_worker(static_cast<int>(i));
  pause_consumers(false);
}

std::vector<const ConsumeLog*> MessageConsumerGroup::logs() const {
  std::lock_guard lock(mutex_);
  std::vector<const ConsumeLog*> out;
  for (auto& c : all_)
    for (auto* l : c->logs()) out.push_back(l);
  return out;
}

int MessageConsumerGroup::started() const {
  std::lock_guard lock(mutex_);
  return static_cast<int>(all_.size());
}

int MessageConsumerGroup::killed() const {
  std::lock_guard lock(mutex_);
  return killed_;
}

}  // namespace pathbench
