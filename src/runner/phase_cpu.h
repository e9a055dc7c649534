// CPU by role for each phase of one path's run, so a summary row's cpu_* columns are that
// phase's cost per request and not the whole run's repeated on every row. A thread samples at
// each phase's start (from the common start line); after the run a last sample closes the last
// phase (its drain included). Client threads have ended by then: their own totals stand in for
// the client group of that last sample.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "measure/cpu.h"
#include "measure/schedule.h"

namespace pathbench {

class PhaseCpuSampler {
 public:
  using Sample = std::function<CpuSample()>;
  PhaseCpuSampler(std::vector<PhasePlan> plan, Sample sample);
  ~PhaseCpuSampler();
  PhaseCpuSampler(const PhaseCpuSampler&) = delete;
  PhaseCpuSampler& operator=(const PhaseCpuSampler&) = delete;

  // The common start line (steady ns); called once, from run_path's on_start.
  void begin(Nanos start_ns);
  // After the run: one CPU sample per phase of the plan (a phase that never began: zeros).
  std::vector<CpuSample> finish(Nanos client_thread_total_ns);

 private:
  void run(Nanos start_ns);
  void stop();  // idempotent: the sampling thread is joined when it returns

  const std::vector<PhasePlan> plan_;
  const Sample sample_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<CpuSample> at_phase_start_;  // under mutex_
  std::thread thread_;
};

}  // namespace pathbench
