// `--tls-cert --tls-key --tls-ca --tls-server-name --insecure` for the commands that listen on
// their own (`serve ROLE`, `agent`): one description, one reading. Reading loads the PEM files
// once and sets the process's TLS settings (net/tls_policy.h): the client identity its channels
// present, and whether plaintext may listen off loopback (--insecure, with a WARNING line).
#pragma once
#include <boost/program_options.hpp>

#include <memory>
#include <string>

#include "core/tls_config.h"
#include "scenario/scenario.h"

namespace pathbench::cli {

void add_tls_options(boost::program_options::options_description& options);

// The material (nullptr without --tls-*), after setting the process's TLS settings. Throws
// boost::program_options::error (exit 2) when only some of the three files are given or one
// cannot be read.
std::shared_ptr<const TlsMaterial> read_tls_options(const boost::program_options::variables_map& vm);

// `run`: the same settings from the scenario's [tls] (client identity, `insecure`), and the
// plaintext rule checked for the servers it will spawn before anything starts. Throws
// std::runtime_error with the message to print (exit 2).
void apply_scenario_tls(const Scenario& scenario);

}  // namespace pathbench::cli
