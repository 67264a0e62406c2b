// Resolves a Docker USER string ("name", "uid", "name:group", "uid:gid", …)
// against the container's own /etc/passwd and /etc/group, read through
// openat2(RESOLVE_IN_ROOT) so a symlinked /etc/passwd in an image cannot make
// us read a host file.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "oci/spec.h"

namespace moor::image {

// Docker semantics: empty user = root. A numeric uid absent from passwd is
// taken as is (gid 0); a name must exist ("unable to find user NAME: no
// matching entries in passwd file"). Without ":group" the primary gid comes
// from passwd. Additional gids: every /etc/group entry listing the user's
// name as a member (the primary gid excluded), as runc and Docker add them.
// Missing /etc/passwd or /etc/group files count as empty, and so does an
// empty rootfs argument (numeric users only).
Result<oci::User> ResolveUser(const std::string& rootfs, std::string_view user);

}  // namespace moor::image
