// [tls]: its keys, the role tables, and the rules that span the scenario (schema.h).
#include <fmt/format.h>

#include "scenario/schema.h"

namespace pathbench {

TlsFiles TlsConfig::for_role(std::string_view role) const {
  if (!on()) return {};
  const TlsRoleFiles* own = role == "worker"     ? &worker
                            : role == "balancer" ? &balancer
                            : role == "broker"   ? &broker
                                                 : nullptr;
  TlsFiles f{files.ca, files.cert, files.key, files.server_name};
  if (own) {
    if (!own->ca.empty()) f.ca = own->ca;
    if (!own->cert.empty()) f.cert = own->cert;
    if (!own->key.empty()) f.key = own->key;
    if (!own->server_name.empty()) f.server_name = own->server_name;
  }
  return f;
}

}  // namespace pathbench

namespace pathbench::scenario_fields {

namespace {

// Relative to the scenario file's folder (a file loaded by name; a text without a file keeps
// them relative to the working directory), then checked readable at the key's position.
void resolve_files(TableReader& r, TlsRoleFiles& f) {
  const std::string& source = r.reporter().file();
  const bool from_file = !source.empty() && source.front() != '<';
  const std::filesystem::path base = from_file ? std::filesystem::path(source).parent_path() : std::filesystem::path();
  for (auto [key, file] : {std::pair<std::string_view, std::filesystem::path*>{"ca", &f.ca}, {"cert", &f.cert}, {"key", &f.key}}) {
    if (file->empty()) continue;
    if (file->is_relative() && !base.empty()) *file = base / *file;
    if (auto problem = tls_file_problem(*file); !problem.empty())
      if (auto n = r.raw().get(key))
        r.reporter().error(n->source(), fmt::format("{}: the file {} {}", r.key_path(key), file->string(), problem));
  }
}

const Field<TlsRoleFiles> kTlsRoleFields[] = {
    text<&TlsRoleFiles::ca>("ca"),
    text<&TlsRoleFiles::cert>("cert"),
    text<&TlsRoleFiles::key>("key"),
    text<&TlsRoleFiles::server_name>("server_name"),
};
const TableSpec<TlsRoleFiles> kTlsRoleTable{kTlsRoleFields, nullptr, &resolve_files};

bool role_empty(const TlsRoleFiles& f) { return f.ca.empty() && f.cert.empty() && f.key.empty() && f.server_name.empty(); }

const Field<TlsConfig> kTlsFields[] = {
    boolean<&TlsConfig::enabled>("enabled"),
    boolean<&TlsConfig::insecure>("insecure"),
    text<&TlsConfig::files, &TlsRoleFiles::ca>("ca"),
    text<&TlsConfig::files, &TlsRoleFiles::cert>("cert"),
    text<&TlsConfig::files, &TlsRoleFiles::key>("key"),
    text<&TlsConfig::files, &TlsRoleFiles::server_name>("server_name"),
    table<&TlsConfig::worker>("worker", kTlsRoleTable).omitted_when([](const TlsConfig& t) { return role_empty(t.worker); }),
    table<&TlsConfig::balancer>("balancer", kTlsRoleTable).omitted_when([](const TlsConfig& t) { return role_empty(t.balancer); }),
    table<&TlsConfig::broker>("broker", kTlsRoleTable).omitted_when([](const TlsConfig& t) { return role_empty(t.broker); }),
};

const TableSpec<TlsConfig> kTlsTable{
    kTlsFields,
    [](TlsConfig& t) { t.present = true; },
    [](TableReader& r, TlsConfig& t) {
      resolve_files(r, t.files);
      if (!t.enabled) return;
      // Mutual TLS: every identity in use has all three files.
      for (std::string_view role : {"client", "worker", "balancer", "broker"}) {
        if (role == "broker" && role_empty(t.broker)) continue;  // checked only when written
        const TlsFiles f = t.for_role(role);
        if (!f.ca.empty() && !f.cert.empty() && !f.key.empty()) continue;
        std::string missing;
        if (f.ca.empty()) missing += " ca";
        if (f.cert.empty()) missing += " cert";
        if (f.key.empty()) missing += " key";
        r.reporter().error(r.raw().source(),
                           fmt::format("tls: expected ca, cert and key for the {} (mutual TLS; in [tls] or [tls.{}]), "
                                       "missing:{}",
                                       role == "client" ? "load's clients" : role, role == "client" ? "ROLE" : role, missing));
        return;
      }
    }};

}  // namespace

const TableSpec<TlsConfig>& tls_table() { return kTlsTable; }

}  // namespace pathbench::scenario_fields
