// The supervisor that ties a private broker server's lifetime to pathbench's.
//
// BrokerProcess (mq/server_process.h) does not exec rabbitmq-server or nats-server itself: it
// execs the running program again as
//     <program> __supervise PARENT_PID FOLDER SERVER [ARGS...]
// and that small process (single-threaded, in the server's process group) makes itself a child
// subreaper (PR_SET_CHILD_SUBREAPER), starts the server, and waits. It ends the server's whole
// process tree — every descendant found through /proc, including what rabbitmq-server runs under
// `su` in another process group, and daemons that were re-parented to it — and removes FOLDER when
//   - pathbench goes away, however (SIGKILL included: it polls its parent every 50 ms), or
//   - it is sent SIGTERM / SIGINT / SIGHUP (BrokerProcess::stop, a second Ctrl-C);
// when the server exits on its own, it ends what the server left running and exits with the
// server's status. Nothing else can outlive a run.
//
// Every program that starts brokers must hand such a command line to supervise_main before doing
// anything else (pathbench's main, the test runner's and bench/figures' do).
#pragma once

namespace pathbench::mq {

inline constexpr const char* kSuperviseCommand = "__supervise";

// When argv[1] is kSuperviseCommand: runs the supervisor and returns its exit status (the
// caller returns it from main). Otherwise returns -1 and does nothing.
int supervise_main(int argc, char** argv);

}  // namespace pathbench::mq
