// The pathbench binary as a user meets it: exit codes, messages, files.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "test_helpers.h"

using namespace pathbench::testing;

TEST_CASE("cli: --help, --version, and each subcommand's --help") {
  auto help = run_pathbench("--help");
  CHECK(help.exit_code == 0);
  CHECK(help.output.find("run") != std::string::npos);
  CHECK(help.output.find("tcp_echo") != std::string::npos);  // the registry is listed
  auto version = run_pathbench("--version");
  CHECK(version.exit_code == 0);
  CHECK(std::regex_search(version.output, std::regex("^pathbench [0-9]+\\.[0-9]+\\.[0-9]+ \\(commit ")));
  for (const char* command : {"run", "seed", "validate"}) {
    CAPTURE(command);
    auto r = run_pathbench(std::string(command) + " --help");
    CHECK(r.exit_code == 0);
    CHECK(r.output.find(std::string("pathbench ") + command) != std::string::npos);
  }
  CHECK(run_pathbench("").exit_code == 2);
  CHECK(run_pathbench("frobnicate").exit_code == 2);
  CHECK(run_pathbench("run --no-such-option x.toml").exit_code == 2);
}

TEST_CASE("cli: validate reports file:line:col and exits 2, good files exit 0") {
  TempDir dir;
  write_file(dir / "bad.toml", "[load]\nrate_per_s = -3\n[[path]]\nkind = \"tcp_echo\"\n");
  write_file(dir / "good.toml", "[[path]]\nkind = \"tcp_echo\"\n");
  auto bad = run_pathbench("validate " + (dir / "bad.toml").string());
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find((dir / "bad.toml").string() + ":2:14: load.rate_per_s: expected a number > 0") !=
        std::string::npos);
  auto good = run_pathbench("validate " + (dir / "good.toml").string());
  CHECK(good.exit_code == 0);
  CHECK(good.output.find(": ok (1 path: tcp_echo)") != std::string::npos);
  CHECK(run_pathbench("validate " + (dir / "missing.toml").string()).exit_code == 2);
}

TEST_CASE("cli: a bad scenario or override starts nothing and exits 2") {
  TempDir dir;
  write_file(dir / "bad.toml", "[[path]]\nkind = \"tcp_echo\"\nbogus = 1\n");
  auto r = run_pathbench("run " + (dir / "bad.toml").string() + " --out " + (dir / "out").string());
  CHECK(r.exit_code == 2);
  CHECK(r.output.find(":3:1: unknown key 'path[0].bogus'") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "out"));

  write_file(dir / "good.toml", "[[path]]\nkind = \"tcp_echo\"\n");
  auto o = run_pathbench("run " + (dir / "good.toml").string() + " --rate -5 --out " + (dir / "out").string());
  CHECK(o.exit_code == 2);
  CHECK(o.output.find("--rate") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "out"));
}

TEST_CASE("cli: run writes the results folder and prints the summary with accounting") {
  TempDir dir;
  write_file(dir / "s.toml",
             "name = \"cli\"\n[load]\nrate_per_s = 400\nduration = \"10s\"\nwarmup = \"1s\"\n[[path]]\nkind = "
             "\"tcp_echo\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --duration 400ms --warmup 100ms --out " +
                         (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(std::regex_search(r.output, std::regex("tcp_echo +main +400 +[0-9.]+ +160 +0 +0 +0")));
  CHECK(r.output.find("tcp_echo: issued 160 = ok 160 + errors 0 + timeouts 0 + rejected 0; in flight after drain 0") !=
        std::string::npos);
  CHECK(r.output.find("accounting holds") != std::string::npos);
  for (const char* f : {"summary.csv", "tcp_echo.hgrm", "tcp_echo.uncorrected.hgrm", "context.json"})
    CHECK(std::filesystem::exists(dir / "out" / f));
}

TEST_CASE("cli: seed builds a database and refuses to overwrite it without --force") {
  TempDir dir;
  std::string db = (dir / "s.db").string();
  auto first = run_pathbench("seed --db " + db + " --sales 2000 --seed 5");
  CAPTURE(first.output);
  CHECK(first.exit_code == 0);
  CHECK(first.output.find("2000 sales") != std::string::npos);
  auto again = run_pathbench("seed --db " + db + " --sales 2000 --seed 5");
  CHECK(again.exit_code == 2);
  CHECK(again.output.find("--force") != std::string::npos);
  CHECK(run_pathbench("seed --db " + db + " --sales 2000 --seed 5 --force").exit_code == 0);
  CHECK(run_pathbench("seed --db " + db + " --sales 0 --force").exit_code == 2);
}

TEST_CASE("cli: an unusable --out is refused before any load, exit 2") {
  TempDir dir;
  write_file(dir / "s.toml", "[load]\nrate_per_s = 100\nduration = \"5s\"\n[[path]]\nkind = \"tcp_echo\"\n");
  write_file(dir / "a_file", "x");
  auto start = std::chrono::steady_clock::now();
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / "a_file" / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--out") != std::string::npos);
  CHECK(r.output.find("a_file") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));  // nothing ran
  auto long_name = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / std::string(300, 'n')).string());
  CHECK(long_name.exit_code == 2);
  CHECK(long_name.output.find("--out") != std::string::npos);
}

TEST_CASE("cli: a result file that cannot be written fails the run (exit 1) and names the file") {
  // summary.csv is a link to /dev/full: opening works, every write fails with ENOSPC, as on a full disk.
  TempDir dir;
  write_file(dir / "s.toml", "[load]\nrate_per_s = 100\nduration = \"200ms\"\nwarmup = \"0s\"\n[[path]]\nkind = \"tcp_echo\"\n");
  std::filesystem::create_directories(dir / "out");
  std::filesystem::create_symlink("/dev/full", dir / "out" / "summary.csv");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("cannot write " + (dir / "out" / "summary.csv").string()) != std::string::npos);
  CHECK(r.output.find("No space left on device") != std::string::npos);
}

TEST_CASE("cli: a broker password appears in no output and no result file") {
  TempDir dir;
  write_file(dir / "s.toml",
             "[load]\nrate_per_s = 50\nduration = \"300ms\"\nwarmup = \"0s\"\ndeadline = \"300ms\"\n"
             "[broker]\nkind = \"rabbitmq\"\nurl = \"amqp://bench:SuperSecret42@127.0.0.1:1/\"\n"
             "[[path]]\nkind = \"queue\"\nvia = \"rabbitmq\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --out " + (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 1);  // nothing listens on port 1: the path fails
  CHECK(r.output.find("SuperSecret42") == std::string::npos);
  CHECK(r.output.find("amqp://***@127.0.0.1:1") != std::string::npos);
  for (auto& entry : std::filesystem::directory_iterator(dir / "out")) {
    CAPTURE(entry.path());
    CHECK(read_file(entry.path()).find("SuperSecret42") == std::string::npos);
  }
  auto v = run_pathbench("validate " + (dir / "s.toml").string());
  CHECK(v.output.find("SuperSecret42") == std::string::npos);
}

TEST_CASE("cli: seed tells a failed write (exit 1) from bad input (exit 2)") {
  TempDir dir;
  auto bad = run_pathbench("seed --db " + (dir / "s.db").string() + " --sales 0");
  CHECK(bad.exit_code == 2);
  write_file(dir / "a_file", "x");
  auto io = run_pathbench("seed --db " + (dir / "a_file" / "s.db").string() + " --sales 10");
  CAPTURE(io.output);
  CHECK(io.exit_code == 1);
  CHECK(io.output.find("a_file") != std::string::npos);
}

TEST_CASE("cli: run --profile writes a non-empty CPU profile per path into the results folder") {
  TempDir dir;
  write_file(dir / "s.toml",
             "name = \"prof\"\n[load]\nmode = \"closed\"\nconcurrency = 1\nduration = \"2s\"\nwarmup = \"0s\"\n"
             "[[path]]\nkind = \"tcp_echo\"\n");
  auto r = run_pathbench("run " + (dir / "s.toml").string() + " --quiet --profile --out " + (dir / "out").string());
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  if (r.output.find("this build has no CPU profiler") != std::string::npos) {
    MESSAGE("skipped: built without libprofiler");
    return;
  }
  const auto prof = dir / "out" / "profile_tcp_echo.prof";
  REQUIRE(std::filesystem::exists(prof));
  CHECK(std::filesystem::file_size(prof) > 0);
  // google-pprof renders it when installed; either way the run says what it did.
  if (r.output.find("google-pprof is missing") == std::string::npos) {
    CHECK(std::filesystem::exists(dir / "out" / "profile_tcp_echo.top.txt"));
    CHECK(r.output.find("(top functions)") != std::string::npos);
  }
}

TEST_CASE("cli: serve echo --profile DIR writes the role's profile when it stops") {
  TempDir dir;
  const auto profile_dir = dir / "prof";
  std::string command = std::string("'") + PATHBENCH_BINARY + "' serve echo --listen 127.0.0.1:0 --profile '" +
                        profile_dir.string() + "' > '" + (dir / "log").string() + "' 2>&1 & echo $!";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  int pid = 0;
  REQUIRE(fscanf(pipe, "%d", &pid) == 1);
  pclose(pipe);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  kill(pid, SIGTERM);
  // The profile is complete once the role has stopped and said what it rendered (or could not).
  std::string output;
  for (int i = 0; i < 400; ++i) {
    std::ifstream log(dir / "log");
    output.assign(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
    if (output.find("profile:") != std::string::npos || output.find("no CPU profiler") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CAPTURE(output);
  if (output.find("this build has no CPU profiler") != std::string::npos) return;
  REQUIRE(std::filesystem::exists(profile_dir / "profile_echo.prof"));
  CHECK(std::filesystem::file_size(profile_dir / "profile_echo.prof") > 0);
}
