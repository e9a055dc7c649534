// The consumers one-way messaging (paths/messaging.h) starts for the scenario's workers: one
// MessageConsumer (roles/message_consumer.h) per worker, registered with the run's Endpoints as a
// WorkerFaultTarget, so [[fault]] kill_worker / restart_worker / pause_consumers /
// resume_consumers reach them as they reach the spawned workers and queue workers.
//
// kill_worker(i): worker i's consumer dies at once (its connections close; what it held
// unacknowledged is redelivered by the broker to the other workers' consumers, a duplicate when
// it had already been done); its logs stay readable. restart_worker(i): a new consumer for worker
// i (paused if the group is). Thread-safe: the fault thread acts while the runner's thread reads
// logs().
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "paths/endpoints.h"
#include "roles/message_consumer.h"

namespace pathbench {

class MessageConsumerGroup final : public WorkerFaultTarget {
 public:
  // Starts worker i's consumer with options[i]. Throws std::runtime_error as MessageConsumer does.
  explicit MessageConsumerGroup(std::vector<MessageConsumerOptions> options);
  ~MessageConsumerGroup();  // every consumer stopped
  MessageConsumerGroup(const MessageConsumerGroup&) = delete;
  MessageConsumerGroup& operator=(const MessageConsumerGroup&) = delete;

  bool kill_worker(int index) override;
  bool restart_worker(int index) override;  // throws std::runtime_error when it cannot start
  bool pause_consumers(bool paused) override;
  void restore() override;

  // Every consumer thread's log, killed consumers' included, in the order the consumers were
  // started: a restarted worker's logs come after all earlier ones, so an index into a previous
  // answer still names the same log.
  std::vector<const ConsumeLog*> logs() const;
  // Consumers started so far (initial ones and restarts), and how many of them were killed.
  int started() const;
  int killed() const;

 private:
  mutable std::mutex mutex_;
  std::vector<MessageConsumerOptions> options_;       // [i]: worker i's
  std::vector<std::unique_ptr<MessageConsumer>> all_;  // every consumer started, in order
  std::vector<MessageConsumer*> live_;                 // [i]: worker i's in all_, null while killed
  bool paused_ = false;
  int killed_ = 0;
};

}  // namespace pathbench
