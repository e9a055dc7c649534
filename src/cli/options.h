// Shared Boost.Program_options handling for the subcommands: parse, print --help, and turn
// option errors into one clear line and exit code 2.
#pragma once
#include <boost/program_options.hpp>
#include <span>
#include <string>

namespace pathbench::cli {

// Returns -1 to go on, or the exit code to return now (0 after --help, 2 on a bad option).
int parse_options(std::span<const std::string> args, const boost::program_options::options_description& all,
                  const boost::program_options::positional_options_description& positional,
                  boost::program_options::variables_map& vm,
                  const boost::program_options::options_description& visible, const std::string& extra_help = "");

}  // namespace pathbench::cli
