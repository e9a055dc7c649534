#include "roles/forward_table.h"

#include <string>

#include "pathbench.pb.h"

namespace pathbench {

v1::QueryReply forward_error_reply(std::uint64_t client_request_id, int code, std::string_view message) {
  v1::QueryReply reply;
  reply.set_request_id(client_request_id);
  reply.mutable_status()->set_code(code);
  reply.mutable_status()->set_message(std::string(message));
  return reply;
}

}  // namespace pathbench
